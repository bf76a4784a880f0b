package agent

import (
	"bytes"
	"cmp"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"net/netip"
	"runtime"
	"slices"
	"strconv"
	"sync"

	"github.com/wgfleet/wgfleet/tunnel"
	"golang.zx2c4.com/wireguard/wgctrl/wgtypes"
)

// A dump is the largest answer the agent gives (about 200 bytes a peer),
// and the one the controller asks for every poll: it is encoded straight
// from the device's UAPI text in one pass, without building a value per
// peer and without reflection. The bytes are exactly those json.Encoder
// writes for the agentapi.Dump of the same peers (dumpjson_test.go holds
// them to it), so the wire contract does not see the difference.

// peerJSONSize is about what one peer with an endpoint and one allowed
// IP takes in a dump, to size the buffers once.
const peerJSONSize = 240

// dumpChunk is how much of a dump is copied into one Write: large enough
// for few system calls, small enough to stay in a CPU's cache.
const dumpChunk = 64 << 10

// dumpEntry is one peer of a part of a dump, to sort by key: the first 8
// bytes of its key, big endian (most comparisons end there), and its
// number in the part.
type dumpEntry struct {
	prefix uint64
	n      int32
}

// dumpPart is the peers of one part of the device's reply
// (tunnel.EachPeerInParts): each encoded as its JSON object in objs, peer
// n's ending at ends[n], its key keys[n]; order is the peers sorted by
// key, once the part is complete.
type dumpPart struct {
	objs  []byte
	ends  []int32
	keys  []wgtypes.Key
	order []dumpEntry
}

// add appends v's object to p.
func (p *dumpPart) add(v *tunnel.PeerView) {
	p.objs = appendPeerJSON(p.objs, v)
	p.ends = append(p.ends, int32(len(p.objs)))
	p.order = append(p.order, dumpEntry{prefix: binary.BigEndian.Uint64(v.PublicKey[:8]), n: int32(len(p.keys))})
	p.keys = append(p.keys, v.PublicKey)
}

// obj is the JSON object of peer n.
func (p *dumpPart) obj(n int32) []byte {
	start := int32(0)
	if n > 0 {
		start = p.ends[n-1]
	}
	return p.objs[start:p.ends[n]]
}

// compareDumpEntries orders a, a peer of pa, and b, one of pb, by key.
func compareDumpEntries(pa *dumpPart, a dumpEntry, pb *dumpPart, b dumpEntry) int {
	if c := cmp.Compare(a.prefix, b.prefix); c != 0 {
		return c
	}
	return bytes.Compare(pa.keys[a.n][:], pb.keys[b.n][:])
}

// sort sorts p.order.
func (p *dumpPart) sort() {
	slices.SortFunc(p.order, func(a, b dumpEntry) int { return compareDumpEntries(p, a, p, b) })
}

// dumpBody is a dump encoded in parts: {"interface": name, "peers":
// [PEER...]}, peers sorted by public key across the parts. Its JSON is
// the parts' objects merged in key order, made as it is written.
type dumpBody struct {
	head  []byte // up to the peers' opening bracket
	parts []dumpPart
	pool  *sync.Pool // where parts go back once written, for the next dump
}

// dumpBody reads the device's peers once and encodes the dump of the
// interface, {"interface": name, "peers": [PEER...]}, peers sorted by
// public key, as the seed's dump shape says (agentapi.Peer): the
// preshared key is never written. The device's reply (3 MB of UAPI text
// for 10k peers) is parsed and encoded in parts, on as many goroutines as
// the agent may run at once, each sorting its own peers; the parts are
// merged as the dump is written.
func (i *iface) dumpBody() (*dumpBody, error) {
	n := runtime.GOMAXPROCS(0)
	hint := (i.peerCount()+16)/n + 16 // a guess: the device may hold others
	// The parts' buffers of an earlier dump, if the pool kept them (3 MB
	// for 10k peers): allocated anew, they were a part of each dump's
	// time and most of its garbage.
	var parts []dumpPart
	if kept, ok := i.dumpParts.Get().(*[]dumpPart); ok && len(*kept) == n {
		parts = *kept
	} else {
		parts = make([]dumpPart, n)
	}
	for k := range parts {
		p := &parts[k]
		p.objs, p.ends, p.keys, p.order = p.objs[:0], p.ends[:0], p.keys[:0], p.order[:0]
	}
	err := i.tun.EachPeerInParts(n, func(k int, v *tunnel.PeerView) error {
		p := &parts[k]
		if p.objs == nil {
			p.objs = make([]byte, 0, hint*peerJSONSize)
			p.ends = make([]int32, 0, hint)
			p.keys = make([]wgtypes.Key, 0, hint)
			p.order = make([]dumpEntry, 0, hint)
		}
		p.add(v)
		return nil
	})
	if err != nil {
		i.dumpParts.Put(&parts)
		return nil, fmt.Errorf("reading peers of %s: %w", i.name, err)
	}
	var wg sync.WaitGroup
	for k := range parts {
		if len(parts[k].order) > 1 {
			wg.Go(parts[k].sort)
		}
	}
	wg.Wait()
	head := appendJSONString([]byte(`{"interface":`), i.name)
	head = append(head, `,"peers":[`...)
	return &dumpBody{head: head, parts: parts, pool: &i.dumpParts}, nil
}

// done gives the dump's buffers back for the next one: the dump is not
// used again.
func (d *dumpBody) done() {
	d.pool.Put(&d.parts)
}

// size is the length of the dump's JSON.
func (d *dumpBody) size() int {
	n := len(d.head) + len("]}\n")
	peers := 0
	for _, p := range d.parts {
		n += len(p.objs)
		peers += len(p.order)
	}
	return n + max(0, peers-1) // the commas
}

// WriteTo writes the dump's JSON, final newline included, to w in chunks
// of dumpChunk, merging the parts' peers in key order.
func (d *dumpBody) WriteTo(w io.Writer) (int64, error) {
	buf := make([]byte, 0, dumpChunk)
	var written int64
	flush := func() error {
		n, err := w.Write(buf)
		written += int64(n)
		buf = buf[:0]
		return err
	}
	buf = append(buf, d.head...)
	next := make([]int, len(d.parts)) // the next peer of each part
	first := true
	for {
		best := -1
		for k := range d.parts {
			p := &d.parts[k]
			if next[k] < len(p.order) && (best < 0 ||
				compareDumpEntries(p, p.order[next[k]], &d.parts[best], d.parts[best].order[next[best]]) < 0) {
				best = k
			}
		}
		if best < 0 {
			break
		}
		p := &d.parts[best]
		obj := p.obj(p.order[next[best]].n)
		next[best]++
		if len(buf)+1+len(obj) > cap(buf) && len(buf) > 0 {
			if err := flush(); err != nil {
				return written, err
			}
		}
		if !first {
			buf = append(buf, ',')
		}
		first = false
		buf = append(buf, obj...)
	}
	buf = append(buf, "]}\n"...)
	return written, flush()
}

// appendPeerJSON appends v as the JSON object of agentapi.Peer that
// wirePeer(v.Peer()) makes, field for field and byte for byte.
func appendPeerJSON(b []byte, v *tunnel.PeerView) []byte {
	b = append(b, `{"public_key":"`...)
	b = base64.StdEncoding.AppendEncode(b, v.PublicKey[:])
	b = append(b, `","preshared_key":null,"endpoint":`...)
	if v.Endpoint.IsValid() {
		var scratch [64]byte
		ep := netip.AddrPortFrom(v.Endpoint.Addr().Unmap(), v.Endpoint.Port())
		b = appendJSONBytes(b, ep.AppendTo(scratch[:0]))
	} else {
		b = append(b, "null"...)
	}
	b = append(b, `,"allowed_ips":[`...)
	for n, p := range v.AllowedIPs {
		if n > 0 {
			b = append(b, ',')
		}
		// A prefix is digits, hex letters, '.', ':' and '/' (ParsePrefix
		// takes no zone): nothing to escape.
		b = append(b, '"')
		b = p.AppendTo(b)
		b = append(b, '"')
	}
	b = append(b, `],"latest_handshake":`...)
	if hs := v.LastHandshake(); !hs.IsZero() {
		b = strconv.AppendInt(b, hs.Unix(), 10)
	} else {
		b = append(b, "null"...)
	}
	b = append(b, `,"transfer_rx":`...)
	b = strconv.AppendInt(b, v.ReceiveBytes, 10)
	b = append(b, `,"transfer_tx":`...)
	b = strconv.AppendInt(b, v.TransmitBytes, 10)
	b = append(b, `,"persistent_keepalive":`...)
	b = strconv.AppendInt(b, int64(v.PersistentKeepalive.Seconds()), 10)
	return append(b, '}')
}

// appendJSONString appends s as encoding/json writes a string (HTML
// characters escaped, as json.Encoder does by default).
func appendJSONString(b []byte, s string) []byte { return appendJSONBytes(b, []byte(s)) }

// appendJSONBytes is appendJSONString of the text in s: printable ASCII
// that needs no escape is copied, anything else is left to encoding/json.
func appendJSONBytes(b []byte, s []byte) []byte {
	for _, c := range s {
		if c < 0x20 || c > 0x7e || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			q, _ := json.Marshal(string(s)) // a string always encodes
			return append(b, q...)
		}
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}
