package ipam

import (
	"fmt"
	"net/netip"

	"github.com/wgfleet/wgfleet/controller/fault"
)

// ErrInvalidPool reports a pool prefix that cannot be allocated from. Its
// fault code is EINVALID.
var ErrInvalidPool = fault.New(fault.EINVALID, "ipam: invalid pool")

// Smallest pools: a /30 leaves one IPv4 address for a peer, a /126 two
// IPv6 addresses.
const (
	MaxBits4 = 30
	MaxBits6 = 126
)

// ValidatePool accepts an IPv4 pool no smaller than /30 or an IPv6 pool no
// smaller than /126, in masked form (10.0.0.0/24, not 10.0.0.5/24).
// IPv4-mapped IPv6 prefixes are refused. Errors wrap ErrInvalidPool.
func ValidatePool(p netip.Prefix) error {
	if !p.IsValid() {
		return fmt.Errorf("%w: no prefix", ErrInvalidPool)
	}
	if p.Addr().Zone() != "" {
		return fmt.Errorf("%w: %s has a zone", ErrInvalidPool, p)
	}
	if p.Addr().Is4In6() {
		return fmt.Errorf("%w: %s is an IPv4-mapped IPv6 prefix; write it as IPv4", ErrInvalidPool, p)
	}
	if m := p.Masked(); m != p {
		return fmt.Errorf("%w: %s has host bits set; did you mean %s?", ErrInvalidPool, p, m)
	}
	if p.Addr().Is4() && p.Bits() > MaxBits4 {
		return fmt.Errorf("%w: IPv4 pool %s is smaller than /%d", ErrInvalidPool, p, MaxBits4)
	}
	if p.Addr().Is6() && p.Bits() > MaxBits6 {
		return fmt.Errorf("%w: IPv6 pool %s is smaller than /%d", ErrInvalidPool, p, MaxBits6)
	}
	return nil
}

// ValidatePool4 is ValidatePool for a pool that must be IPv4.
func ValidatePool4(p netip.Prefix) error {
	if p.IsValid() && !p.Addr().Is4() {
		return fmt.Errorf("%w: %s is not an IPv4 prefix", ErrInvalidPool, p)
	}
	return ValidatePool(p)
}

// ValidatePool6 is ValidatePool for a pool that must be IPv6.
func ValidatePool6(p netip.Prefix) error {
	if p.IsValid() && !p.Addr().Is6() {
		return fmt.Errorf("%w: %s is not an IPv6 prefix", ErrInvalidPool, p)
	}
	return ValidatePool(p)
}

// ParsePool4 parses and validates an IPv4 pool such as "10.8.0.0/24".
// Errors wrap ErrInvalidPool and say what is wrong in words, not in the
// parser's.
func ParsePool4(s string) (netip.Prefix, error) {
	p, err := netip.ParsePrefix(s)
	if err != nil {
		return netip.Prefix{}, fmt.Errorf("%w: %q is not a valid IPv4 CIDR (like 10.8.0.0/24)", ErrInvalidPool, s)
	}
	return p, ValidatePool4(p)
}

// ParsePool6 parses and validates an IPv6 pool such as "fd00:8::/64",
// like ParsePool4.
func ParsePool6(s string) (netip.Prefix, error) {
	p, err := netip.ParsePrefix(s)
	if err != nil {
		return netip.Prefix{}, fmt.Errorf("%w: %q is not a valid IPv6 CIDR (like fd00:8::/64)", ErrInvalidPool, s)
	}
	return p, ValidatePool6(p)
}
