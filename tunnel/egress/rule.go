package egress

import (
	"errors"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
)

// ErrInvalidRule is wrapped by every error of ParseRule.
var ErrInvalidRule = errors.New("invalid egress rule")

// maxRuleLen bounds the rule text ParseRule reads; nothing valid is longer.
const maxRuleLen = 64

// PortRange is an inclusive range of TCP/UDP ports. The zero value means
// every port, and also matches traffic without ports (ICMP).
type PortRange struct {
	First, Last uint16
}

// Any reports whether r is the zero value, every port.
func (r PortRange) Any() bool { return r == PortRange{} }

// Contains reports whether port is in r. Port 0 (traffic without ports)
// is only in the zero range.
func (r PortRange) Contains(port uint16) bool {
	if r.Any() {
		return true
	}
	return port != 0 && r.First <= port && port <= r.Last
}

// String is "" for every port, else "53" or "8000-8999".
func (r PortRange) String() string {
	switch {
	case r.Any():
		return ""
	case r.First == r.Last:
		return strconv.Itoa(int(r.First))
	}
	return strconv.Itoa(int(r.First)) + "-" + strconv.Itoa(int(r.Last))
}

// Rule is one entry of an allow or deny list: a destination prefix and,
// optionally, the ports it covers.
type Rule struct {
	// Prefix is masked (10.0.0.0/8, never 10.1.2.3/8) and never IPv4-mapped.
	Prefix netip.Prefix
	// Ports is the zero value for every port.
	Ports PortRange
}

// Matches reports whether the rule covers addr (IPv4-mapped addresses are
// taken as IPv4) and port (0 for traffic without ports, such as ICMP,
// which only rules without ports cover).
func (r Rule) Matches(addr netip.Addr, port uint16) bool {
	return r.Prefix.Contains(addr.Unmap().WithZone("")) && r.Ports.Contains(port)
}

// String is the canonical text, which ParseRule reads back to the same
// rule: "10.0.0.0/8", "10.0.0.0/8:53", "fd00::/8:8000-8999".
func (r Rule) String() string {
	if r.Ports.Any() {
		return r.Prefix.String()
	}
	return r.Prefix.String() + ":" + r.Ports.String()
}

// ParseRule reads one rule: an address or CIDR, optionally followed by
// ":PORT" or ":FIRST-LAST". An IPv6 address with a port is written in
// brackets ("[fd00::1]:53"); an IPv6 CIDR needs none ("fd00::/8:53").
// Host bits of a CIDR are cleared. Accepted:
//
//	10.0.0.0/8   10.0.0.0/8:53   10.1.2.3   10.1.2.3:22   192.0.2.0/24:8000-8999
//	fd00::/8     fd00::/8:53     fd00::1    [fd00::1]:53  [fd00::/8]:53
func ParseRule(s string) (Rule, error) {
	if len(s) > maxRuleLen {
		return Rule{}, fmt.Errorf("%w %.*q...: longer than %d characters", ErrInvalidRule, maxRuleLen, s, maxRuleLen)
	}
	s = strings.TrimSpace(s)
	var addr, ports string
	hasPorts := false
	switch {
	case s == "":
		return Rule{}, fmt.Errorf("%w: empty; want CIDR or CIDR:PORT", ErrInvalidRule)
	case s[0] == '[':
		end := strings.IndexByte(s, ']')
		if end < 0 {
			return Rule{}, fmt.Errorf("%w %q: missing ']'", ErrInvalidRule, s)
		}
		addr = s[1:end]
		rest := s[end+1:]
		if rest != "" {
			if rest[0] != ':' {
				return Rule{}, fmt.Errorf("%w %q: want ':PORT' after ']'", ErrInvalidRule, s)
			}
			ports, hasPorts = rest[1:], true
		}
	case strings.IndexByte(s, '/') >= 0:
		slash := strings.IndexByte(s, '/')
		addr = s
		if colon := strings.IndexByte(s[slash:], ':'); colon >= 0 {
			addr, ports, hasPorts = s[:slash+colon], s[slash+colon+1:], true
		}
	case strings.Count(s, ":") == 1:
		addr, ports, _ = strings.Cut(s, ":")
		hasPorts = true
	default:
		addr = s // IPv4, or IPv6 without a port
	}

	p, err := parsePrefix(addr)
	if err != nil {
		return Rule{}, fmt.Errorf("%w %q: %v", ErrInvalidRule, s, err)
	}
	r := Rule{Prefix: p}
	if hasPorts {
		if r.Ports, err = parsePorts(ports); err != nil {
			return Rule{}, fmt.Errorf("%w %q: %v", ErrInvalidRule, s, err)
		}
	}
	return r, nil
}

// ParseRules parses every rule of ss, naming the first bad one.
func ParseRules(ss []string) ([]Rule, error) {
	out := make([]Rule, 0, len(ss))
	for _, s := range ss {
		r, err := ParseRule(s)
		if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, nil
}

func parsePrefix(s string) (netip.Prefix, error) {
	var p netip.Prefix
	if strings.IndexByte(s, '/') >= 0 {
		var err error
		if p, err = netip.ParsePrefix(s); err != nil {
			return netip.Prefix{}, errors.New("not a CIDR (like 10.0.0.0/8 or fd00::/8)")
		}
	} else {
		a, err := netip.ParseAddr(s)
		if err != nil || a.Zone() != "" {
			return netip.Prefix{}, errors.New("not an IP address or CIDR")
		}
		p = netip.PrefixFrom(a, a.BitLen())
	}
	if p.Addr().Is4In6() {
		return netip.Prefix{}, errors.New("IPv4-mapped IPv6; write it as IPv4")
	}
	return p.Masked(), nil
}

func parsePorts(s string) (PortRange, error) {
	first, last, isRange := strings.Cut(s, "-")
	lo, err := parsePort(first)
	if err != nil {
		return PortRange{}, err
	}
	hi := lo
	if isRange {
		if hi, err = parsePort(last); err != nil {
			return PortRange{}, err
		}
		if hi < lo {
			return PortRange{}, fmt.Errorf("port range %d-%d is reversed", lo, hi)
		}
	}
	return PortRange{First: lo, Last: hi}, nil
}

func parsePort(s string) (uint16, error) {
	if s == "" || len(s) > 5 || strings.TrimLeft(s, "0123456789") != "" {
		return 0, fmt.Errorf("port %q is not a number", s)
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 || n > 65535 {
		return 0, fmt.Errorf("port %q is not in 1-65535", s)
	}
	return uint16(n), nil
}
