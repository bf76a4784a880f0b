// Package egress is the egress policy of a netstack interface: which
// destinations its peers may reach through the agent, as lists of allow and
// deny rules of the form CIDR or CIDR:PORT (deny wins).
//
// Whatever the lists say, the host's own loopback (127.0.0.0/8, ::1, and
// the unspecified addresses 0.0.0.0/8 and ::, which reach the host as well)
// and every port the agent itself listens on (API, metrics, WireGuard) on
// any address of the host are refused unless an allow rule names them
// explicitly. A [Policy] is safe for
// concurrent use; [ParseRule] reads the rule strings of flags and config
// files and is fuzzed.
package egress
