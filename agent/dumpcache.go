package agent

import (
	"bytes"
	"cmp"
	"encoding/binary"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"unsafe"

	"github.com/wgfleet/wgfleet/tunnel"
	"golang.zx2c4.com/wireguard/wgctrl/wgtypes"
)

// Most of a large interface's peers are idle between two polls: their
// lines in the device's reply are the same, byte for byte, as in the last
// one, and so is their JSON (a peer's JSON depends on its lines only:
// tunnel.PeerView.Text). A dump keeps, for the next, each peer's lines
// and JSON by key; the next copies the JSON of a peer whose lines did not
// change instead of parsing and encoding them again
// (tunnel.KnownFunc), and takes the last dump's order by key when the set
// of keys did not change, instead of sorting. A peer whose lines changed
// (counters, handshake, endpoint, allowed IPs, keepalive) is parsed and
// encoded as if nothing had been kept.

// readPeersFunc reads the device's peers in n parts as
// tunnel.Tunnel.EachPeerInParts does, the device's reply into buf (grown
// if need be), which it returns: the peers' Texts are parts of it.
type readPeersFunc func(buf []byte, n int, known tunnel.KnownFunc, fn func(part int, v *tunnel.PeerView) error) ([]byte, error)

// readDevicePeers is a readPeersFunc of the device of t. The reply is
// parsed where it was read, as a string over buf: the Texts kept of it
// are dropped (dumpSnap.release) before buf is read into again.
func readDevicePeers(t *tunnel.Tunnel) readPeersFunc {
	return func(buf []byte, n int, known tunnel.KnownFunc, fn func(int, *tunnel.PeerView) error) ([]byte, error) {
		buf, err := t.ReadPeerText(buf)
		if err != nil {
			return buf, err
		}
		return buf, tunnel.EachPeerInText(unsafe.String(unsafe.SliceData(buf), len(buf)), n, known, fn)
	}
}

// dumpCache is what the last dump of an interface read, for the next.
type dumpCache struct {
	// mu serializes the making of dumps (reading the device is serialized
	// anyway, under the tunnel's lock); writing them is not.
	mu   sync.Mutex
	last *dumpSnap // nil before the first dump, or after one failed
	// pool keeps the buffers of dumps no longer used (a *dumpBuffers),
	// for the next: allocated anew they were a part of each dump's time
	// and most of its garbage.
	pool sync.Pool
}

// dumpBuffers are what a dumpSnap reads and encodes into.
type dumpBuffers struct {
	reply []byte // the device's reply, which the parts' texts are of
	parts []dumpPart
}

// dumpRef is one peer of a dumpSnap: its part and its number there.
type dumpRef struct{ part, n int32 }

// dumpSnap is one dump's peers, each encoded as its JSON object in its
// part, in key order. It is not changed once made, and is shared by the
// answer that writes it and by the cache, until both release it.
type dumpSnap struct {
	bufs  *dumpBuffers
	parts []dumpPart // bufs.parts
	order []dumpRef  // the peers in key order
	// rank is each peer's place in order; shared with the next dump's
	// snap when that has the same keys (a rank map is never changed).
	rank map[wgtypes.Key]int32
	refs atomic.Int32
	pool *sync.Pool
}

// after is the peer after ref in the order the device gave them (the
// parts one after the other); part -1 after the last.
func (s *dumpSnap) after(ref dumpRef) dumpRef {
	for ref.n++; ref.part < int32(len(s.parts)); ref.part, ref.n = ref.part+1, 0 {
		if ref.n < int32(len(s.parts[ref.part].keys)) {
			return ref
		}
	}
	return dumpRef{part: -1}
}

// release drops one holder of s; the last gives its buffers back.
func (s *dumpSnap) release() {
	if s.refs.Add(-1) != 0 {
		return
	}
	for k := range s.parts {
		clear(s.parts[k].texts) // parts of the reply, read into again next
	}
	s.pool.Put(s.bufs)
}

// dumpEntry is one peer of a part of a dump, to sort by key: the first 8
// bytes of its key, big endian (most comparisons end there), and its
// number in the part.
type dumpEntry struct {
	prefix uint64
	n      int32
}

// dumpPart is the peers of one part of the device's reply
// (tunnel.EachPeerInParts), in the order the device gave them: each
// encoded as its JSON object in objs, peer n's ending at ends[n], its key
// keys[n], its lines texts[n], its rank rank[n]: in the last dump (-1 if
// it had none) while the part is read, in this one once arranged.
type dumpPart struct {
	objs  []byte
	ends  []int32
	keys  []wgtypes.Key
	texts []string
	rank  []int32
	order []dumpEntry // to sort by key, when the keys changed

	// asked is the last peer known was asked about and its rank in the
	// last dump, for fn's call for the same peer.
	asked     wgtypes.Key
	askedRank int32
	// next is the peer of the last dump after the one this part's last
	// peer was: the device walks its peers in about the same order each
	// time (a rotation of it), so most peers are found there, where the
	// memory is read in order, instead of by key (part -1: look up by
	// key).
	next dumpRef
}

// reset empties p for a new dump, keeping its buffers; hint is about how
// many peers it will hold.
func (p *dumpPart) reset(hint int) {
	if p.objs == nil {
		p.objs = make([]byte, 0, hint*peerJSONSize)
		p.ends = make([]int32, 0, hint)
		p.keys = make([]wgtypes.Key, 0, hint)
		p.texts = make([]string, 0, hint)
		p.rank = make([]int32, 0, hint)
	}
	p.objs, p.ends, p.keys, p.texts, p.rank, p.order = p.objs[:0], p.ends[:0], p.keys[:0], p.texts[:0], p.rank[:0], p.order[:0]
	p.asked, p.askedRank, p.next = wgtypes.Key{}, -1, dumpRef{part: -1}
}

// add appends a peer, its JSON obj, to p.
func (p *dumpPart) add(key wgtypes.Key, text string, obj []byte, lastRank int32) {
	p.objs = append(p.objs, obj...)
	p.push(key, text, lastRank)
}

// push records the peer whose JSON p.objs now ends with.
func (p *dumpPart) push(key wgtypes.Key, text string, lastRank int32) {
	p.ends = append(p.ends, int32(len(p.objs)))
	p.keys = append(p.keys, key)
	p.texts = append(p.texts, text)
	p.rank = append(p.rank, lastRank)
}

// obj is the JSON object of peer n.
func (p *dumpPart) obj(n int32) []byte {
	start := int32(0)
	if n > 0 {
		start = p.ends[n-1]
	}
	return p.objs[start:p.ends[n]]
}

// build reads the device's peers through read in n parts (peers about
// how many the interface holds) and returns them as a dumpSnap held twice:
// by the cache, for the next dump, and by the caller, who releases it once
// written.
func (c *dumpCache) build(n, peers int, read readPeersFunc) (*dumpSnap, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	last := c.last
	s := &dumpSnap{pool: &c.pool}
	if kept, ok := c.pool.Get().(*dumpBuffers); ok && len(kept.parts) == n {
		s.bufs = kept
	} else {
		s.bufs = &dumpBuffers{parts: make([]dumpPart, n)}
	}
	s.parts = s.bufs.parts
	hint := (peers+16)/n + 16 // a guess: the device may hold others
	for k := range s.parts {
		s.parts[k].reset(hint)
	}
	// find is where key was in the last dump; ok false if it was not.
	find := func(p *dumpPart, key wgtypes.Key) (ref dumpRef, ok bool) {
		if last == nil {
			return ref, false
		}
		if c := p.next; c.part >= 0 && last.parts[c.part].keys[c.n] == key {
			return c, true
		}
		r, ok := last.rank[key]
		if !ok {
			return ref, false
		}
		return last.order[r], true
	}
	known := func(k int, key wgtypes.Key, text string) int {
		p := &s.parts[k]
		ref, ok := find(p, key)
		if !ok {
			p.asked, p.askedRank, p.next = key, -1, dumpRef{part: -1}
			return 0
		}
		lp := &last.parts[ref.part]
		r := lp.rank[ref.n]
		p.next = last.after(ref)
		if lt := lp.texts[ref.n]; strings.HasPrefix(text, lt) && tunnel.PeerEndsAt(text, len(lt)) {
			p.add(key, text[:len(lt)], lp.obj(ref.n), r)
			return len(lt)
		}
		p.asked, p.askedRank = key, r
		return 0
	}
	reply, err := read(s.bufs.reply, n, known, func(k int, v *tunnel.PeerView) error {
		p := &s.parts[k]
		r := p.askedRank
		if p.asked != v.PublicKey { // not asked (no known function)
			r = -1
			if ref, ok := find(p, v.PublicKey); ok {
				r = last.parts[ref.part].rank[ref.n]
			}
		}
		p.objs = appendPeerJSON(p.objs, v)
		p.push(v.PublicKey, v.Text, r)
		return nil
	})
	s.bufs.reply = reply
	if err != nil {
		s.refs.Store(1)
		s.release()
		return nil, err
	}
	if !s.sameKeys(last) {
		s.sortKeys()
	}
	s.refs.Store(2)
	if last != nil {
		last.release()
	}
	c.last = s
	return s, nil
}

// sameKeys takes last's order and ranks if s holds the same keys (each
// peer had a rank in last, and no two the same one), and reports whether
// it did.
func (s *dumpSnap) sameKeys(last *dumpSnap) bool {
	if last == nil {
		return false
	}
	total := 0
	for k := range s.parts {
		total += len(s.parts[k].keys)
	}
	if total != len(last.order) {
		return false
	}
	order := make([]dumpRef, total)
	for r := range order {
		order[r].part = -1
	}
	for k := range s.parts {
		for n, r := range s.parts[k].rank {
			if r < 0 || order[r].part >= 0 {
				return false
			}
			order[r] = dumpRef{part: int32(k), n: int32(n)}
		}
	}
	s.order, s.rank = order, last.rank
	return true
}

// sortKeys puts s's peers in key order: each part sorted on its own
// goroutine, then the parts merged.
func (s *dumpSnap) sortKeys() {
	var wg sync.WaitGroup
	total := 0
	for k := range s.parts {
		p := &s.parts[k]
		total += len(p.keys)
		for n, key := range p.keys {
			p.order = append(p.order, dumpEntry{prefix: binary.BigEndian.Uint64(key[:8]), n: int32(n)})
		}
		if len(p.order) > 1 {
			wg.Go(func() {
				slices.SortFunc(p.order, func(a, b dumpEntry) int { return compareDumpEntries(p, a, p, b) })
			})
		}
	}
	wg.Wait()
	s.order = make([]dumpRef, 0, total)
	s.rank = make(map[wgtypes.Key]int32, total)
	next := make([]int, len(s.parts)) // the next peer of each part
	for {
		best := -1
		for k := range s.parts {
			p := &s.parts[k]
			if next[k] < len(p.order) && (best < 0 ||
				compareDumpEntries(p, p.order[next[k]], &s.parts[best], s.parts[best].order[next[best]]) < 0) {
				best = k
			}
		}
		if best < 0 {
			return
		}
		p := &s.parts[best]
		n := p.order[next[best]].n
		next[best]++
		p.rank[n] = int32(len(s.order))
		s.rank[p.keys[n]] = p.rank[n]
		s.order = append(s.order, dumpRef{part: int32(best), n: n})
	}
}

// compareDumpEntries orders a, a peer of pa, and b, one of pb, by key.
func compareDumpEntries(pa *dumpPart, a dumpEntry, pb *dumpPart, b dumpEntry) int {
	if c := cmp.Compare(a.prefix, b.prefix); c != 0 {
		return c
	}
	return bytes.Compare(pa.keys[a.n][:], pb.keys[b.n][:])
}
