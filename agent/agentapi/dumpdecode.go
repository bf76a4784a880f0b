package agentapi

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"runtime"
)

// DecodeDump decodes the body of a dump (GET /wg/{iface}/dump, GET
// /v1/wg/{iface}/peers): the same value and the same errors as
// json.Unmarshal into a zero Dump, whatever the input (FuzzDecodeDump holds
// it to that), without reflection for the shape agents write.
//
// A dump is the largest answer the controller reads, once a poll per
// node. The fast path takes the JSON an agent writes: the known keys,
// spelled exactly, each at most once per object; strings of printable
// ASCII without escapes; integers without fraction or exponent; null only
// where the field is a pointer; any white space. Anything else (an
// unknown or differently cased key, an escape, a float, an invalid
// document) is left to encoding/json, which decides.
func DecodeDump(data []byte) (Dump, error) {
	if d, ok := decodeDumpFast(data, minSplitBytes); ok {
		return d, nil
	}
	var d Dump
	err := json.Unmarshal(data, &d)
	return d, err
}

// dumpScanner reads the subset of JSON decodeDumpFast takes. Each method
// returns ok false for anything outside it, and the caller gives up.
type dumpScanner struct {
	b []byte
	i int
	a dumpArena
}

func (s *dumpScanner) space() {
	for s.i < len(s.b) {
		switch s.b[s.i] {
		case ' ', '\t', '\n', '\r':
			s.i++
		default:
			return
		}
	}
}

// peek skips white space and returns the next byte, or 0 at the end.
func (s *dumpScanner) peek() byte {
	s.space()
	if s.i == len(s.b) {
		return 0
	}
	return s.b[s.i]
}

// eat consumes c if it comes next (after white space).
func (s *dumpScanner) eat(c byte) bool {
	if s.peek() != c {
		return false
	}
	s.i++
	return true
}

// null consumes a null if it comes next.
func (s *dumpScanner) null() bool {
	if s.peek() == 'n' && len(s.b)-s.i >= 4 && string(s.b[s.i:s.i+4]) == "null" {
		s.i += 4
		return true
	}
	return false
}

// raw reads a string without escapes, of bytes 0x20 to 0x7f, and returns
// its bytes (aliasing the input).
func (s *dumpScanner) raw() ([]byte, bool) {
	if !s.eat('"') {
		return nil, false
	}
	start := s.i
	end := bytes.IndexByte(s.b[start:], '"')
	if end < 0 {
		return nil, false
	}
	v := s.b[start : start+end]
	if !plainText(v) {
		return nil, false
	}
	s.i = start + end + 1
	return v, true
}

// Bytes with every byte 0x01, 0x20, 0x80 and '\\', for plainText.
const (
	wordOnes      = 0x0101010101010101
	wordSpaces    = 0x20 * wordOnes
	wordHighs     = 0x80 * wordOnes
	wordBackslash = '\\' * wordOnes
)

// plainText reports whether v is bytes 0x20 to 0x7f, '\\' excepted (the
// bytes of a string that need no decoding), eight at a time: a dump's
// strings are most of its bytes.
func plainText(v []byte) bool {
	for ; len(v) >= 8; v = v[8:] {
		x := binary.LittleEndian.Uint64(v)
		// With no byte of 0x80 or more, (x - n) &^ x & wordHighs flags
		// exactly the bytes below n, where n is 0x20 in each byte (and
		// bytes that are 0 once the backslashes are xored away).
		b := x ^ wordBackslash
		if x&wordHighs != 0 || (x-wordSpaces)&^x&wordHighs != 0 || (b-wordOnes)&^b&wordHighs != 0 {
			return false
		}
	}
	for _, c := range v {
		if c < 0x20 || c >= 0x80 || c == '\\' {
			return false
		}
	}
	return true
}

func (s *dumpScanner) str() (string, bool) {
	b, ok := s.raw()
	if !ok {
		return "", false
	}
	return s.a.str(b), true
}

// strPtr reads null (nil) or a string.
func (s *dumpScanner) strPtr() (*string, bool) {
	if s.null() {
		return nil, true
	}
	v, ok := s.str()
	return s.a.strPtr(v), ok
}

// int reads an integer of at most 18 digits (which cannot overflow an
// int64) with no fraction or exponent.
func (s *dumpScanner) int() (int64, bool) {
	s.space()
	neg := s.i < len(s.b) && s.b[s.i] == '-'
	if neg {
		s.i++
	}
	start := s.i
	var n int64
	for s.i < len(s.b) && s.b[s.i] >= '0' && s.b[s.i] <= '9' {
		n = n*10 + int64(s.b[s.i]-'0')
		s.i++
	}
	digits := s.i - start
	if digits == 0 || digits > 18 || (digits > 1 && s.b[start] == '0') {
		return 0, false
	}
	if s.i < len(s.b) && (s.b[s.i] == '.' || s.b[s.i] == 'e' || s.b[s.i] == 'E') {
		return 0, false
	}
	if neg {
		n = -n
	}
	return n, true
}

// key reads an object key and its colon.
func (s *dumpScanner) key() ([]byte, bool) {
	k, ok := s.raw()
	if !ok || !s.eat(':') {
		return nil, false
	}
	return k, true
}

// object reads the members of an object whose '{' was consumed, calling
// member for each key, which reads the value. A key met twice is refused.
func (s *dumpScanner) object(member func(key []byte, seen *uint16) bool) bool {
	var seen uint16
	if s.eat('}') {
		return true
	}
	for {
		k, ok := s.key()
		if !ok || !member(k, &seen) {
			return false
		}
		if s.eat(',') {
			continue
		}
		return s.eat('}')
	}
}

// once marks bit in seen, refusing a repeat.
func once(seen *uint16, bit uint16) bool {
	if *seen&bit != 0 {
		return false
	}
	*seen |= bit
	return true
}

// decodeDumpFast decodes data if it is in the subset of JSON the fast
// path takes. A dump of at least minSplit bytes, in the layout agents
// write, is decoded in two halves on two goroutines (splitPeers).
func decodeDumpFast(data []byte, minSplit int) (Dump, bool) {
	return decodeDumpSplit(&dumpScanner{b: data}, len(data), func(s *dumpScanner) (int, <-chan half) {
		split := splitPeers(data, s.i, minSplit)
		return split, s.restFrom(split)
	})
}

// decodeDumpSplit is decodeDumpFast of what s holds, a dump of size bytes
// (s may hold only its first part: see split). When s reaches the peers
// array, split says where to take the peers from some point on from
// elsewhere: the point (-1 for none) and the channel that gives them, the
// other half, with the whole dump (dumpScanner.peers).
func decodeDumpSplit(s *dumpScanner, size int, split func(s *dumpScanner) (int, <-chan half)) (Dump, bool) {
	var d Dump
	if !s.eat('{') {
		return Dump{}, false
	}
	ok := s.object(func(k []byte, seen *uint16) bool {
		switch string(k) {
		case "interface":
			var ok bool
			d.Interface, ok = s.str()
			return once(seen, 1) && ok
		case "peers":
			if !once(seen, 2) || !s.eat('[') {
				return false
			}
			d.Peers = make([]Peer, 0, size/200+1)
			if s.eat(']') {
				return true
			}
			var ok bool
			at, other := split(s)
			d.Peers, ok = s.peers(d.Peers, at, other)
			return ok
		}
		return false
	})
	if !ok || s.peek() != 0 || s.i != len(s.b) {
		return Dump{}, false
	}
	return d, true
}

// peerSeparator is what lies between two peers of a dump as agents write
// it. It can only be that: a string of the fast path holds no '"'.
const peerSeparator = `},{"public_key":`

// minSplitBytes is the smallest dump decoded in two halves: below it
// (about a thousand peers), a goroutine costs more than it saves.
const minSplitBytes = 256 << 10

// splitPeers returns where, in a dump of at least minSplit bytes whose
// peers array starts at from, a peer about half way ends and the next
// begins (the index of the ',' between them), or -1 to decode it in one
// piece.
func splitPeers(data []byte, from, minSplit int) int {
	if len(data) < minSplit || runtime.GOMAXPROCS(0) < 2 {
		return -1
	}
	mid := max(from, len(data)/2)
	j := bytes.Index(data[mid:], []byte(peerSeparator))
	if j < 0 {
		return -1
	}
	return mid + j + 1
}

// half is the peers of a dump from a split on, decoded on a goroutine of
// its own (dumpScanner.rest).
type half struct {
	peers []Peer
	end   int    // where its scanner stopped: after the peers' ']'
	b     []byte // the whole dump, which the scanner that takes it reads on
	ok    bool
}

// restFrom decodes the peers of s's dump from split on, on a goroutine of
// its own, and gives them on the channel it returns; nil if split is -1.
func (s *dumpScanner) restFrom(split int) <-chan half {
	if split < 0 {
		return nil
	}
	other := make(chan half, 1)
	go func() {
		o := &dumpScanner{b: s.b, i: split}
		h := half{b: s.b}
		h.peers, h.ok = o.rest(make([]Peer, 0, (len(s.b)-split)/200+1))
		h.end = o.i
		other <- h
	}()
	return other
}

// peers reads the peer objects of an array whose '[' and first '{'... are
// next, appending them to ps. If other is not nil, the peers from split
// on are taken from it when this scanner reaches split: what it would
// have read itself from there, by the same code; the scanner then reads
// on in the half's b (the whole dump, of which its own may have been the
// part before split).
func (s *dumpScanner) peers(ps []Peer, split int, other <-chan half) ([]Peer, bool) {
	if other != nil {
		defer func() {
			if other != nil {
				<-other // not taken: wait for it all the same
			}
		}()
	}
	for {
		var p Peer
		if !s.eat('{') || !s.anyPeer(&p) {
			return ps, false
		}
		ps = append(ps, p)
		if other != nil && s.i == split {
			h := <-other
			other = nil
			s.b, s.i = h.b, h.end
			return append(ps, h.peers...), h.ok
		}
		if s.eat(',') {
			continue
		}
		return ps, s.eat(']')
	}
}

// rest reads what follows a peer object in the peers array: more peers
// after a ',' up to the closing ']'.
func (s *dumpScanner) rest(ps []Peer) ([]Peer, bool) {
	for {
		if s.eat(']') {
			return ps, true
		}
		if !s.eat(',') || !s.eat('{') {
			return ps, false
		}
		var p Peer
		if !s.anyPeer(&p) {
			return ps, false
		}
		ps = append(ps, p)
	}
}

// anyPeer reads the members of a peer object whose '{' was consumed:
// by agentPeer if it is written as agents write it, else by peer.
func (s *dumpScanner) anyPeer(p *Peer) bool {
	start := s.i
	if s.agentPeer(p) {
		return true
	}
	*p, s.i = Peer{}, start // what agentPeer took of the arena is left unused
	return s.peer(p)
}

// agentPeer reads the members of a peer object whose '{' was consumed if
// they are what an agent writes (appendPeerJSON in the agent, and
// json.Encoder of a Peer): every field, in the order of Peer, without
// white space. It reads each value as peer does, so that it decodes what
// it takes to the same Peer; given anything else, it returns false
// (having moved s.i) and the caller reads the object again by peer.
func (s *dumpScanner) agentPeer(p *Peer) bool {
	var ok bool
	if !s.lit(`"public_key":`) {
		return false
	}
	if p.PublicKey, ok = s.str(); !ok || !s.lit(`,"preshared_key":`) {
		return false
	}
	if p.PresharedKey, ok = s.strPtr(); !ok || !s.lit(`,"endpoint":`) {
		return false
	}
	if p.Endpoint, ok = s.strPtr(); !ok || !s.lit(`,"allowed_ips":[`) {
		return false
	}
	l := s.a.startIPs()
	if !s.lit("]") {
		for {
			ip, ok := s.str()
			if !ok {
				return false
			}
			s.a.addIP(&l, ip)
			if s.lit(",") {
				continue
			}
			if !s.lit("]") {
				return false
			}
			break
		}
	}
	p.AllowedIPs = s.a.endIPs(l)
	if !s.lit(`,"latest_handshake":`) {
		return false
	}
	if !s.null() {
		n, ok := s.int()
		if !ok {
			return false
		}
		p.LatestHandshake = s.a.intPtr(n)
	}
	if !s.lit(`,"transfer_rx":`) {
		return false
	}
	if p.TransferRx, ok = s.int(); !ok || !s.lit(`,"transfer_tx":`) {
		return false
	}
	if p.TransferTx, ok = s.int(); !ok || !s.lit(`,"persistent_keepalive":`) {
		return false
	}
	n, ok := s.int()
	p.PersistentKeepalive = int(n)
	return ok && int64(p.PersistentKeepalive) == n && s.lit("}")
}

// lit consumes v if the input goes on with exactly v (no white space
// skipped).
func (s *dumpScanner) lit(v string) bool {
	if len(s.b)-s.i < len(v) || string(s.b[s.i:s.i+len(v)]) != v {
		return false
	}
	s.i += len(v)
	return true
}

// peer reads the members of a peer object whose '{' was consumed.
func (s *dumpScanner) peer(p *Peer) bool {
	return s.object(func(k []byte, seen *uint16) bool {
		var ok bool
		switch string(k) {
		case "public_key":
			p.PublicKey, ok = s.str()
			return once(seen, 1) && ok
		case "preshared_key":
			p.PresharedKey, ok = s.strPtr()
			return once(seen, 2) && ok
		case "endpoint":
			p.Endpoint, ok = s.strPtr()
			return once(seen, 4) && ok
		case "allowed_ips":
			if !once(seen, 8) || !s.eat('[') {
				return false
			}
			l := s.a.startIPs()
			defer func() { p.AllowedIPs = s.a.endIPs(l) }()
			if s.eat(']') {
				return true
			}
			for {
				ip, ok := s.str()
				if !ok {
					return false
				}
				s.a.addIP(&l, ip)
				if s.eat(',') {
					continue
				}
				return s.eat(']')
			}
		case "latest_handshake":
			if !once(seen, 16) {
				return false
			}
			if s.null() {
				return true
			}
			n, ok := s.int()
			p.LatestHandshake = s.a.intPtr(n)
			return ok
		case "transfer_rx":
			p.TransferRx, ok = s.int()
			return once(seen, 32) && ok
		case "transfer_tx":
			p.TransferTx, ok = s.int()
			return once(seen, 64) && ok
		case "persistent_keepalive":
			n, ok := s.int()
			p.PersistentKeepalive = int(n)
			return once(seen, 128) && ok && int64(p.PersistentKeepalive) == n
		}
		return false
	})
}
