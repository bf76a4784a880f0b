package tunnel

import (
	"encoding/binary"
	"math/bits"
	"unsafe"
)

// A UAPI reply's lines are short (about 30 bytes), so strings.Index(s,
// "\n\n") finds a newline every few bytes and checks the byte after it,
// one call of IndexByte each time: about 1.4 ms of CPU for the 3 MB reply
// of 10k peers, all of it before any part can be parsed. Eight bytes at a
// time, with no call per newline, the same search is several times
// cheaper.

// Bytes with every byte 0x01, 0x80 and '\n', for the word-wide search.
const (
	wordOnes    = 0x0101010101010101
	wordHighs   = 0x8080808080808080
	wordNewline = '\n' * wordOnes
)

// indexEmptyLine is strings.Index(s, "\n\n"): the index of the first
// newline followed by another, or -1.
func indexEmptyLine(s string) int {
	// b is s read as bytes, never written.
	b := unsafe.Slice(unsafe.StringData(s), len(s))
	i := 0
	for w := b; len(w) >= 17; w, i = w[16:], i+16 {
		// z's byte j is 0 where the byte is a newline; e's byte j is 0
		// where it and the byte after it both are.
		z0 := binary.LittleEndian.Uint64(w[0:8]) ^ wordNewline
		z1 := binary.LittleEndian.Uint64(w[8:16]) ^ wordNewline
		e0 := z0 | z0>>8 | z1<<56
		e1 := z1 | z1>>8 | uint64(w[16]^'\n')<<56
		// The lowest byte flagged is e's first zero byte (a flag above
		// a zero byte may be false; the lowest is not).
		t0 := (e0 - wordOnes) &^ e0 & wordHighs
		t1 := (e1 - wordOnes) &^ e1 & wordHighs
		if t0|t1 != 0 {
			if t0 != 0 {
				return i + bits.TrailingZeros64(t0)/8
			}
			return i + 8 + bits.TrailingZeros64(t1)/8
		}
	}
	for ; i+1 < len(b); i++ {
		if b[i] == '\n' && b[i+1] == '\n' {
			return i
		}
	}
	return -1
}
