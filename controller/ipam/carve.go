package ipam

import (
	"encoding/binary"
	"fmt"
	"net/netip"
)

// CarvePool4 returns the first /bits prefix of the IPv4 supernet that
// overlaps none of used (the pools of the existing nodes; IPv6 and invalid
// prefixes in it are ignored). The result passes ValidatePool4. It fails
// with an error wrapping ErrInvalidPool when supernet is not an IPv4
// prefix or bits does not fit in it (bits from supernet's length to
// MaxBits4), and with ErrPoolExhausted when every candidate overlaps.
//
// It costs O(len(used)²) at worst whatever the size of the supernet: each
// candidate that overlaps a used prefix is skipped past that prefix.
func CarvePool4(supernet netip.Prefix, bits int, used []netip.Prefix) (netip.Prefix, error) {
	if err := ValidatePool4(supernet); err != nil {
		return netip.Prefix{}, fmt.Errorf("supernet: %w", err)
	}
	if bits < supernet.Bits() || bits > MaxBits4 {
		return netip.Prefix{}, fmt.Errorf("%w: a /%d pool does not fit in supernet %s (from /%d to /%d)",
			ErrInvalidPool, bits, supernet, supernet.Bits(), MaxBits4)
	}
	start := uint64(v4(supernet.Addr()))
	end := start + 1<<(32-supernet.Bits()) // one past the last address
	size := uint64(1) << (32 - bits)
	for cand := start; cand+size <= end; {
		p := netip.PrefixFrom(fromV4(uint32(cand)), bits)
		next := cand
		for _, u := range used {
			if !u.IsValid() || !u.Addr().Is4() || !u.Overlaps(p) {
				continue
			}
			// Skip past u, to the next boundary of a /bits.
			u = u.Masked()
			past := uint64(v4(u.Addr())) + 1<<(32-u.Bits())
			next = max(next, (past+size-1)/size*size)
		}
		if next == cand {
			return p, nil
		}
		cand = next
	}
	return netip.Prefix{}, fmt.Errorf("%w: every /%d of %s overlaps a node's pool", ErrPoolExhausted, bits, supernet)
}

func v4(a netip.Addr) uint32 {
	b := a.As4()
	return binary.BigEndian.Uint32(b[:])
}

func fromV4(u uint32) netip.Addr {
	var b [4]byte
	binary.BigEndian.PutUint32(b[:], u)
	return netip.AddrFrom4(b)
}
