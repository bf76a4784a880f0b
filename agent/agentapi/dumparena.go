package agentapi

import "strings"

// A dump of 10k peers holds about 40k small values: a key, allowed IPs
// and their slice, an endpoint and a handshake a peer. Allocated one by
// one, they were most of the cost of decoding one; dumpArena hands them
// out of shared blocks instead. Blocks are small, so a value kept long
// after its dump keeps little else alive.

// arenaText is the size of a block of string bytes; arenaValues the
// number of values in a block of allowed IPs, pointed-to strings or
// handshakes.
const (
	arenaText   = 4 << 10
	arenaValues = 128
)

// dumpArena allocates the strings, slices and pointed-to values of one
// decoded dump. Values it handed out are never written again.
type dumpArena struct {
	text strings.Builder // string bytes; a full block is left, never grown
	ips  []string        // the current block of allowed IPs
	strs []string        // of strings pointed to (endpoints, preshared keys)
	ints []int64         // of handshakes
}

// str returns b as a string.
func (a *dumpArena) str(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	if a.text.Cap()-a.text.Len() < len(b) {
		a.text = strings.Builder{}
		a.text.Grow(max(arenaText, len(b)))
	}
	start := a.text.Len()
	a.text.Write(b)
	return a.text.String()[start:]
}

// strPtr returns a pointer to a string holding v.
func (a *dumpArena) strPtr(v string) *string {
	if len(a.strs) == cap(a.strs) {
		a.strs = make([]string, 0, arenaValues)
	}
	a.strs = append(a.strs, v)
	return &a.strs[len(a.strs)-1]
}

// intPtr returns a pointer to an int64 holding v.
func (a *dumpArena) intPtr(v int64) *int64 {
	if len(a.ints) == cap(a.ints) {
		a.ints = make([]int64, 0, arenaValues)
	}
	a.ints = append(a.ints, v)
	return &a.ints[len(a.ints)-1]
}

// ipList is a list of allowed IPs being read, in the arena's block.
type ipList struct{ start int }

// startIPs begins a list of allowed IPs.
func (a *dumpArena) startIPs() ipList {
	if a.ips == nil || len(a.ips) == cap(a.ips) {
		a.ips = make([]string, 0, arenaValues)
	}
	return ipList{start: len(a.ips)}
}

// addIP appends v to l, moving l to a new block if the current one is
// full.
func (a *dumpArena) addIP(l *ipList, v string) {
	if len(a.ips) == cap(a.ips) {
		moved := make([]string, 0, max(arenaValues, 2*(len(a.ips)-l.start)+1))
		a.ips = append(moved, a.ips[l.start:]...)
		l.start = 0
	}
	a.ips = append(a.ips, v)
}

// endIPs returns l: a slice of its own capacity (appending to it copies),
// never nil.
func (a *dumpArena) endIPs(l ipList) []string {
	return a.ips[l.start:len(a.ips):len(a.ips)]
}
