package ipam

import (
	"encoding/binary"
	"math/bits"
	"net/netip"
)

// u128 is an address as an unsigned 128-bit integer, so arithmetic works
// the same on both families. An IPv4 address lives in the low 32 bits.
type u128 struct {
	hi, lo uint64
	is4    bool
}

func fromAddr(a netip.Addr) u128 {
	if a.Is4() {
		b := a.As4()
		return u128{lo: uint64(binary.BigEndian.Uint32(b[:])), is4: true}
	}
	b := a.As16()
	return u128{hi: binary.BigEndian.Uint64(b[:8]), lo: binary.BigEndian.Uint64(b[8:])}
}

func (u u128) addr() netip.Addr {
	if u.is4 {
		var b [4]byte
		binary.BigEndian.PutUint32(b[:], uint32(u.lo))
		return netip.AddrFrom4(b)
	}
	var b [16]byte
	binary.BigEndian.PutUint64(b[:8], u.hi)
	binary.BigEndian.PutUint64(b[8:], u.lo)
	return netip.AddrFrom16(b)
}

// add returns u+n and false when that leaves the address family.
func (u u128) add(n uint64) (u128, bool) {
	lo, carry := bits.Add64(u.lo, n, 0)
	hi, over := bits.Add64(u.hi, 0, carry)
	r := u128{hi: hi, lo: lo, is4: u.is4}
	if u.is4 {
		return r, lo <= 0xffffffff && hi == 0
	}
	return r, over == 0
}

// sub returns u-v when it fits in 64 bits (u >= v), else false.
func (u u128) sub(v u128) (uint64, bool) {
	lo, borrow := bits.Sub64(u.lo, v.lo, 0)
	hi, under := bits.Sub64(u.hi, v.hi, borrow)
	return lo, under == 0 && hi == 0
}

func (u u128) sub1() (u128, bool) {
	lo, borrow := bits.Sub64(u.lo, 1, 0)
	hi, under := bits.Sub64(u.hi, 0, borrow)
	return u128{hi: hi, lo: lo, is4: u.is4}, under == 0
}

func (u u128) less(v u128) bool {
	return u.hi < v.hi || (u.hi == v.hi && u.lo < v.lo)
}

func (u u128) or(v u128) u128 {
	return u128{hi: u.hi | v.hi, lo: u.lo | v.lo, is4: u.is4}
}

// lowMask has the low n bits set, 0 <= n <= 128.
func lowMask(n int) u128 {
	switch {
	case n <= 0:
		return u128{}
	case n < 64:
		return u128{lo: 1<<n - 1}
	case n == 64:
		return u128{lo: ^uint64(0)}
	case n < 128:
		return u128{hi: 1<<(n-64) - 1, lo: ^uint64(0)}
	default:
		return u128{hi: ^uint64(0), lo: ^uint64(0)}
	}
}
