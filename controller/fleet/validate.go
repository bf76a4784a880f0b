package fleet

import (
	"net/netip"
	"net/url"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/wgfleet/wgfleet/agent/agentapi"
	"github.com/wgfleet/wgfleet/controller/ipam"
	"github.com/wgfleet/wgfleet/controller/wgconfig"
	"github.com/wgfleet/wgfleet/wgrules"
)

// Field checks shared by nodes and peers. Each returns a *ValidationError
// naming the JSON field, or nil.

// Limits of input values.
const (
	MaxNameLen      = 64
	MaxSecretLen    = 1024
	MaxWeight       = 1_000_000
	MaxMaxPeers     = 1 << 24
	maxDNSEntries   = 16
	maxClientRoutes = 256
)

// checkName accepts 1..64 characters without control characters (after
// trimming spaces); optional names may be empty.
func checkName(field, s string, required bool) (string, error) {
	s = strings.TrimSpace(s)
	switch {
	case s == "" && required:
		return "", Invalid(field, "is required: 1 to %d characters", MaxNameLen)
	case !utf8.ValidString(s):
		return "", Invalid(field, "is not valid UTF-8")
	case utf8.RuneCountInString(s) > MaxNameLen:
		return "", Invalid(field, "is longer than %d characters", MaxNameLen)
	case strings.IndexFunc(s, unicode.IsControl) >= 0:
		return "", Invalid(field, "must not contain control characters")
	}
	return s, nil
}

// checkTLSFingerprint reads a pinned certificate fingerprint as
// agentapi.ParseFingerprint does ("" is none); a pin needs an https
// agentURL.
func checkTLSFingerprint(s, agentURL string) (agentapi.Fingerprint, error) {
	const field = "tls_fingerprint"
	fp, err := agentapi.ParseFingerprint(s)
	if err != nil {
		return agentapi.Fingerprint{}, Invalid(field, "must be the SHA-256 of the agent's certificate, 64 hex digits (colons allowed), or \"\" for none: %v", err)
	}
	if u, err := url.Parse(agentURL); !fp.IsZero() && (err != nil || u.Scheme != "https") {
		return agentapi.Fingerprint{}, Invalid(field, "pins a TLS certificate, so agent_url must be https://; set it to \"\" for an http agent")
	}
	return fp, nil
}

// checkAgentURL accepts an http or https URL with a host, optionally a
// port and a path prefix; no user info, query or fragment.
func checkAgentURL(s string) (string, error) {
	const field = "agent_url"
	s = strings.TrimSpace(s)
	if s == "" {
		return "", Invalid(field, "is required: the agent's base URL, e.g. https://node1.example.net:8443")
	}
	u, err := url.Parse(s)
	switch {
	case err != nil:
		return "", Invalid(field, "is not a URL; expected e.g. https://node1.example.net:8443")
	case u.Scheme != "http" && u.Scheme != "https":
		return "", Invalid(field, "must start with http:// or https://")
	case u.Opaque != "" || u.Host == "" || u.Hostname() == "":
		return "", Invalid(field, "has no host; expected e.g. https://node1.example.net:8443")
	case u.User != nil:
		return "", Invalid(field, "must not carry a user name or password; the agent authenticates with the node's secret")
	case u.RawQuery != "" || u.ForceQuery || u.Fragment != "" || strings.Contains(s, "#"):
		return "", Invalid(field, "must not have a query or fragment")
	}
	if p := u.Port(); p != "" {
		if err := wgconfig.CheckEndpoint("h:" + p); err != nil {
			return "", Invalid(field, "port %s is not in 1..65535", p)
		}
	}
	return strings.TrimRight(s, "/"), nil
}

// checkSecret accepts a shared secret that agentapi.CheckSecret accepts
// (long enough, not the seed's placeholder), of at most MaxSecretLen bytes
// and without white space at either end. The message never quotes the
// secret.
func checkSecret(s string) error {
	const field = "secret"
	if s == "" {
		return Invalid(field, "is required: the agent's shared secret (at least %d bytes)", agentapi.MinSecretLen)
	}
	if err := agentapi.CheckSecret([]byte(s)); err != nil {
		return Invalid(field, "%v", err)
	}
	switch {
	case len(s) > MaxSecretLen:
		return Invalid(field, "is longer than %d bytes", MaxSecretLen)
	case strings.TrimSpace(s) != s:
		return Invalid(field, "must not start or end with white space")
	}
	return nil
}

func checkInterface(s string) error {
	if wgrules.CheckInterfaceName(s) != nil {
		return Invalid("wg_interface", "must be 1 to %d letters, digits or _=+.-, and not \".\" or \"..\" (an interface name such as wg0)", wgrules.MaxInterfaceNameLen)
	}
	return nil
}

// checkEndpoint accepts "" (not set yet) or host:port.
func checkEndpoint(s string) (string, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		// Without it no client config can be made.
		return "", Invalid("endpoint", "is required: the host:port that clients dial, e.g. vpn.example.net:51820 (the node's public address and its WireGuard listen port)")
	}
	if err := wgconfig.CheckEndpoint(s); err != nil {
		return "", Invalid("endpoint", "%s; expected host:port that clients dial, e.g. vpn.example.net:51820 or [2001:db8::1]:51820",
			strings.TrimPrefix(err.Error(), wgconfig.ErrInvalid.Error()+": "))
	}
	return s, nil
}

// Pools as people write them, for the messages of checkPool.
const (
	examplePool4 = "10.8.0.0/24"
	examplePool6 = "fd00:8::/64"
)

// checkPool4 accepts the node's IPv4 pool, a masked prefix of /30 or
// larger.
func checkPool4(s string) (netip.Prefix, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return netip.Prefix{}, Invalid("ip_pool_cidr", "is required: the IPv4 pool of peer addresses (like %s)", examplePool4)
	}
	return checkPool("ip_pool_cidr", s, false)
}

// checkPool6 accepts "" (no IPv6 pool) or a masked IPv6 prefix of /126 or
// larger.
func checkPool6(s string) (netip.Prefix, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return netip.Prefix{}, nil
	}
	return checkPool("ip_pool6_cidr", s, true)
}

// checkPool parses a pool of the given family for field. Its messages are
// written for the person who typed s; they never pass on a parser's own
// error text.
func checkPool(field, s string, v6 bool) (netip.Prefix, error) {
	family, example, maxBits := "IPv4", examplePool4, ipam.MaxBits4
	otherFamily, otherField := "IPv6", "ip_pool6_cidr"
	if v6 {
		family, example, maxBits = "IPv6", examplePool6, ipam.MaxBits6
		otherFamily, otherField = "IPv4", "ip_pool_cidr"
	}
	p, err := netip.ParsePrefix(s)
	switch {
	case err != nil:
		return netip.Prefix{}, Invalid(field, "%q is not a valid %s CIDR (like %s)", s, family, example)
	case p.Addr().Is4In6():
		return netip.Prefix{}, Invalid(field, "%q is an IPv4-mapped IPv6 prefix; an IPv4 pool goes in ip_pool_cidr (like %s)", s, examplePool4)
	case p.Addr().Is6() != v6:
		return netip.Prefix{}, Invalid(field, "%q is an %s CIDR, not %s (like %s); an %s pool goes in %s", s, otherFamily, family, example, otherFamily, otherField)
	case p.Masked() != p:
		return netip.Prefix{}, Invalid(field, "%s has host bits set; did you mean %s?", p, p.Masked())
	case p.Bits() > maxBits:
		return netip.Prefix{}, Invalid(field, "%s is too small for a pool: use a /%d or larger (like %s)", p, maxBits, example)
	}
	// What ipam refuses beyond the above; its messages are for people too.
	if err := ipam.ValidatePool(p); err != nil {
		return netip.Prefix{}, Invalid(field, "%s", strings.TrimPrefix(err.Error(), ipam.ErrInvalidPool.Error()+": "))
	}
	return p, nil
}

// checkDNS accepts "" or comma-separated IP addresses and returns them as
// "a, b".
func checkDNS(field, s string) (string, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return "", nil
	}
	parts := strings.Split(s, ",")
	if len(parts) > maxDNSEntries {
		return "", Invalid(field, "has more than %d servers", maxDNSEntries)
	}
	out := make([]string, 0, len(parts))
	for _, p := range parts {
		a, err := netip.ParseAddr(strings.TrimSpace(p))
		if err != nil || a.Zone() != "" {
			return "", Invalid(field, "must be comma-separated IP addresses, e.g. 1.1.1.1, 2606:4700:4700::1111")
		}
		out = append(out, a.String())
	}
	return strings.Join(out, ", "), nil
}

// splitDNS is the inverse of checkDNS's output.
func splitDNS(s string) []string {
	if strings.TrimSpace(s) == "" {
		return nil
	}
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

func checkRange(field string, v, lo, hi int) error {
	if v < lo || v > hi {
		return Invalid(field, "must be a whole number in %d..%d", lo, hi)
	}
	return nil
}
