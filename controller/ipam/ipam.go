// Package ipam hands out peer addresses from a node's IPv4 and IPv6 pools.
//
// In a pool the network address and the first host (.1 or ::1, which is the
// node's own interface address) are reserved, and so is the broadcast
// address of an IPv4 pool. Allocation never enumerates the pool: it costs
// O(n) in the number of addresses already used, whether the pool is a /24,
// a /8 or an IPv6 /64.
package ipam

import (
	"fmt"
	"net/netip"

	"github.com/wgfleet/wgfleet/controller/fault"
)

// ErrPoolExhausted reports that a pool has no free address left. Its fault
// code is ECONFLICT.
var ErrPoolExhausted = fault.New(fault.ECONFLICT, "ipam: address pool exhausted")

// NextFree returns the lowest usable address of pool that is not in used.
//
// used may be in any order, may repeat addresses, and may hold addresses
// outside pool (those are ignored); it is not modified. The pool must pass
// ValidatePool. NextFree returns ErrPoolExhausted when every usable address
// is taken.
//
// It runs in O(len(used)) time and memory: among the first len(used)+1
// usable addresses at least one is free, so only used addresses that fall
// into that window need to be marked.
func NextFree(pool netip.Prefix, used []netip.Addr) (netip.Addr, error) {
	if err := ValidatePool(pool); err != nil {
		return netip.Addr{}, err
	}
	first, last := usableRange(pool)
	taken := make([]bool, len(used)+1)
	for _, a := range used {
		if !a.IsValid() || a.Is4() != first.is4 || !pool.Contains(a) {
			continue
		}
		off, ok := fromAddr(a).sub(first)
		if ok && off < uint64(len(taken)) {
			taken[off] = true
		}
	}
	for off, t := range taken {
		if t {
			continue
		}
		cand, ok := first.add(uint64(off))
		if !ok || last.less(cand) {
			break
		}
		return cand.addr(), nil
	}
	return netip.Addr{}, fmt.Errorf("%w: %s", ErrPoolExhausted, pool)
}

// InterfaceAddr returns the first host of pool (10.0.0.1 in 10.0.0.0/24),
// which is reserved for the node's own interface address and never handed
// to a peer.
func InterfaceAddr(pool netip.Prefix) netip.Addr {
	return pool.Masked().Addr().Next()
}

// CheckUsable reports whether a may be given to a peer from pool: it must
// lie in the pool and not be one of its reserved addresses. It does not
// know which addresses are already used.
func CheckUsable(pool netip.Prefix, a netip.Addr) error {
	if err := ValidatePool(pool); err != nil {
		return err
	}
	if !a.IsValid() || a.Is4() != pool.Addr().Is4() || a.Is4In6() || !pool.Contains(a) {
		return fmt.Errorf("ipam: address %s is not in pool %s", a, pool)
	}
	first, last := usableRange(pool)
	if u := fromAddr(a); u.less(first) || last.less(u) {
		return fmt.Errorf("ipam: address %s is reserved in pool %s (network, interface or broadcast address)", a, pool)
	}
	return nil
}

// HostPrefix returns the single-address prefix of a: a/32 for IPv4 and
// a/128 for IPv6. It returns the zero Prefix for the zero Addr.
func HostPrefix(a netip.Addr) netip.Prefix {
	if !a.IsValid() {
		return netip.Prefix{}
	}
	return netip.PrefixFrom(a, a.BitLen())
}

// usableRange returns the first and last address of pool that may be
// handed out. ValidatePool guarantees first <= last.
func usableRange(pool netip.Prefix) (first, last u128) {
	base := fromAddr(pool.Addr())
	first, _ = base.add(2) // skip the network address and the interface address
	hostBits := pool.Addr().BitLen() - pool.Bits()
	last = base.or(lowMask(hostBits))
	if base.is4 {
		last, _ = last.sub1() // the IPv4 broadcast address
	}
	return first, last
}
