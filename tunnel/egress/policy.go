package egress

import (
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strings"
)

// ErrRefused is wrapped by every refusal of Policy.Check.
var ErrRefused = errors.New("refused by egress policy")

// hostOnly are the destinations that reach the host itself whatever its
// interfaces are: loopback, and the unspecified addresses, which the
// kernel delivers to the host as well.
var hostOnly = [...]netip.Prefix{
	netip.MustParsePrefix("127.0.0.0/8"),
	netip.MustParsePrefix("0.0.0.0/8"),
	netip.MustParsePrefix("::1/128"),
	netip.MustParsePrefix("::/128"),
}

// Config is what a Policy is made from.
type Config struct {
	// Allow, when not empty, is the only destinations peers may reach.
	// Empty allows every destination that is not denied or protected.
	Allow []Rule
	// Deny is refused whatever Allow says.
	Deny []Rule
	// Ports reports the ports the agent itself listens on (its API, its
	// metrics, its WireGuard interfaces), which are refused on every
	// address of the host unless an Allow rule with ports covers them. nil,
	// or an empty result, protects no port. It is a function because a
	// port may be known only once its listener is bound; it runs per
	// connection or packet to a port, so it should not allocate.
	Ports func() []uint16
	// HostAddrs lists the host's own addresses; nil means the addresses of
	// all its interfaces, read again at most every few seconds.
	HostAddrs func() ([]netip.Addr, error)
}

// Policy decides which destinations peers may reach. Its methods are safe
// for concurrent use.
type Policy struct {
	allow, deny []Rule
	ports       func() []uint16
	hosts       *hostAddrs
}

// New makes a Policy of cfg. It keeps its own copies of the rule lists.
func New(cfg Config) *Policy {
	p := &Policy{
		allow: append([]Rule(nil), cfg.Allow...),
		deny:  append([]Rule(nil), cfg.Deny...),
		ports: cfg.Ports,
		hosts: newHostAddrs(cfg.HostAddrs),
	}
	return p
}

// Check returns nil when peers may reach port on dst, else an error
// wrapping ErrRefused that says which rule refused it. port is 0 for
// traffic without ports (ICMP). IPv4-mapped destinations are checked as
// IPv4, so that ::ffff:127.0.0.1 is loopback. In order:
//
//  1. a Deny rule that matches refuses;
//  2. loopback and unspecified destinations are refused unless an Allow
//     rule matches that lies within the protected range (127.0.0.1/32 or
//     127.0.0.0/8 does, 0.0.0.0/0 does not);
//  3. a port the agent listens on (Config.Ports), on a host address, is
//     refused unless an Allow rule with ports matches;
//  4. with a non-empty Allow list, a destination no Allow rule matches is
//     refused;
//  5. everything else is allowed.
func (p *Policy) Check(dst netip.Addr, port uint16) error {
	dst = dst.Unmap().WithZone("")
	target := func() string { // only for refusals: Check runs per packet between peers
		if port != 0 {
			return netip.AddrPortFrom(dst, port).String()
		}
		return dst.String()
	}
	if !dst.IsValid() {
		return fmt.Errorf("%w: invalid destination", ErrRefused)
	}
	for _, r := range p.deny {
		if r.Matches(dst, port) {
			return fmt.Errorf("%w: %s matches deny rule %s", ErrRefused, target(), r)
		}
	}
	for _, h := range hostOnly {
		if h.Contains(dst) && !p.allowedWithin(dst, port, h) {
			return fmt.Errorf("%w: %s is the host itself (loopback or unspecified); an allow rule within %s must name it", ErrRefused, target(), h)
		}
	}
	if port != 0 && p.protected(port) && !p.allowedPort(dst, port) && p.isHost(dst) {
		return fmt.Errorf("%w: %s is a port the agent listens on (API, metrics or WireGuard), on a host address; an allow rule must name the port", ErrRefused, target())
	}
	if len(p.allow) > 0 && !p.allowed(dst, port) {
		return fmt.Errorf("%w: %s matches no allow rule", ErrRefused, target())
	}
	return nil
}

// protected reports whether port is one the agent listens on.
func (p *Policy) protected(port uint16) bool {
	return p.ports != nil && slices.Contains(p.ports(), port)
}

// isHost reports whether dst is an address of this host. When the host's
// addresses cannot be read, every address counts as the host's.
func (p *Policy) isHost(dst netip.Addr) bool {
	for _, h := range hostOnly {
		if h.Contains(dst) {
			return true
		}
	}
	return p.hosts.contains(dst)
}

func (p *Policy) allowed(dst netip.Addr, port uint16) bool {
	for _, r := range p.allow {
		if r.Matches(dst, port) {
			return true
		}
	}
	return false
}

// allowedWithin reports whether an Allow rule that lies within h matches.
func (p *Policy) allowedWithin(dst netip.Addr, port uint16, h netip.Prefix) bool {
	for _, r := range p.allow {
		if r.Prefix.Bits() >= h.Bits() && h.Contains(r.Prefix.Addr()) && r.Matches(dst, port) {
			return true
		}
	}
	return false
}

// allowedPort reports whether an Allow rule with ports matches.
func (p *Policy) allowedPort(dst netip.Addr, port uint16) bool {
	for _, r := range p.allow {
		if !r.Ports.Any() && r.Matches(dst, port) {
			return true
		}
	}
	return false
}

// String describes the policy for a log line.
func (p *Policy) String() string {
	var b strings.Builder
	b.WriteString("allow ")
	if len(p.allow) == 0 {
		b.WriteString("all")
	} else {
		writeRules(&b, p.allow)
	}
	b.WriteString("; deny ")
	if len(p.deny) == 0 {
		b.WriteString("none")
	} else {
		writeRules(&b, p.deny)
	}
	b.WriteString("; protected: host loopback")
	if p.ports != nil {
		if ports := p.ports(); len(ports) > 0 {
			fmt.Fprintf(&b, ", the agent's ports %v on host addresses", ports)
		}
	}
	return b.String()
}

func writeRules(b *strings.Builder, rs []Rule) {
	for i, r := range rs {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(r.String())
	}
}
