package agent

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"testing"
	"unsafe"

	"github.com/wgfleet/wgfleet/agent/agentapi"
	"github.com/wgfleet/wgfleet/tunnel"
	"golang.zx2c4.com/wireguard/wgctrl/wgtypes"
)

// fakePeer is a peer as a device reports it, to write UAPI text of.
type fakePeer struct {
	key             wgtypes.Key
	psk             bool
	endpoint        string // "" for none
	hsSec, hsNsec   int64
	tx, rx          int64
	keepalive       int
	allowed         []string
	protocolVersion bool
}

// write appends p as wireguard-go's IpcGetOperation writes a peer.
func (p *fakePeer) write(b *strings.Builder) {
	b.WriteString("public_key=" + hex.EncodeToString(p.key[:]) + "\n")
	psk := wgtypes.Key{}
	if p.psk {
		psk[0] = 7
	}
	b.WriteString("preshared_key=" + hex.EncodeToString(psk[:]) + "\n")
	if p.protocolVersion {
		b.WriteString("protocol_version=1\n")
	}
	if p.endpoint != "" {
		b.WriteString("endpoint=" + p.endpoint + "\n")
	}
	fmt.Fprintf(b, "last_handshake_time_sec=%d\nlast_handshake_time_nsec=%d\ntx_bytes=%d\nrx_bytes=%d\npersistent_keepalive_interval=%d\n",
		p.hsSec, p.hsNsec, p.tx, p.rx, p.keepalive)
	for _, a := range p.allowed {
		b.WriteString("allowed_ip=" + a + "\n")
	}
}

// fakeDevice is a set of peers whose UAPI text is written in a new order
// each time: as wireguard-go walks its map of peers (its order turned
// around a random peer), or shuffled.
type fakeDevice struct {
	r       *rand.Rand
	peers   []*fakePeer
	err     string // a line written after the peers, to fail a read
	shuffle bool
}

func (d *fakeDevice) text() string {
	var b strings.Builder
	b.WriteString("private_key=" + strings.Repeat("11", 32) + "\nlisten_port=51820\n")
	order := d.r.Perm(len(d.peers))
	if !d.shuffle && len(d.peers) > 0 {
		from := d.r.IntN(len(d.peers))
		for n := range order {
			order[n] = (from + n) % len(d.peers)
		}
	}
	for _, n := range order {
		d.peers[n].write(&b)
	}
	b.WriteString(d.err)
	return b.String()
}

// read is a readPeersFunc over the device's text.
func (d *fakeDevice) read() readPeersFunc {
	return textReader(d.text())
}

// textReader is a readPeersFunc of text, read into the buffer as the
// device's reply is.
func textReader(text string) readPeersFunc {
	return func(buf []byte, n int, known tunnel.KnownFunc, fn func(int, *tunnel.PeerView) error) ([]byte, error) {
		buf = append(buf[:0], text...)
		return buf, tunnel.EachPeerInText(unsafe.String(unsafe.SliceData(buf), len(buf)), n, known, fn)
	}
}

func (d *fakeDevice) newPeer() *fakePeer {
	p := &fakePeer{protocolVersion: true}
	binary.LittleEndian.PutUint64(p.key[:], d.r.Uint64())
	binary.LittleEndian.PutUint64(p.key[8:], d.r.Uint64())
	p.key[31] = 1
	p.allowed = []string{netip.AddrFrom4([4]byte{10, byte(d.r.IntN(256)), byte(d.r.IntN(256)), byte(d.r.IntN(256))}).String() + "/32"}
	return p
}

// change changes a random peer, or the set, in one of the ways a device's
// peers change between two polls.
func (d *fakeDevice) change() {
	if len(d.peers) == 0 || d.r.IntN(10) == 0 {
		d.peers = append(d.peers, d.newPeer())
		return
	}
	n := d.r.IntN(len(d.peers))
	p := d.peers[n]
	switch d.r.IntN(9) {
	case 0:
		d.peers = append(d.peers[:n], d.peers[n+1:]...)
	case 1:
		p.tx += int64(d.r.IntN(1 << 20))
	case 2:
		p.rx += int64(d.r.IntN(1 << 20))
	case 3:
		p.hsSec, p.hsNsec = 1764480000+int64(d.r.IntN(1000)), int64(d.r.IntN(1e9))
	case 4:
		p.endpoint = []string{"", "192.0.2.1:51820", "[2001:db8::1]:9", "[::ffff:198.51.100.3]:1", "[fe80::1%eth0]:443"}[d.r.IntN(5)]
	case 5:
		p.keepalive = d.r.IntN(3) * 25
	case 6:
		p.allowed = append(p.allowed, fmt.Sprintf("fd00::%x/128", d.r.IntN(1<<16)))
	case 7:
		p.allowed = nil
	case 8:
		p.psk = !p.psk
	}
}

// oracle is the dump of the device's text as json.Encoder writes it for
// the parsed peers, sorted by key.
func oracle(t testing.TB, name, text string) []byte {
	st, err := tunnel.ParseDevice(strings.NewReader(text))
	if err != nil {
		t.Fatal(err)
	}
	slices.SortFunc(st.Peers, func(a, b wgtypes.Peer) int { return bytes.Compare(a.PublicKey[:], b.PublicKey[:]) })
	d := agentapi.Dump{Interface: name, Peers: make([]agentapi.Peer, 0, len(st.Peers))}
	for _, p := range st.Peers {
		d.Peers = append(d.Peers, wirePeer(p))
	}
	var b bytes.Buffer
	if err := json.NewEncoder(&b).Encode(d); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// written is the dump of s as it is written, of the length it announces.
func written(t testing.TB, name string, s *dumpSnap) []byte {
	head := appendJSONString([]byte(`{"interface":`), name)
	d := &dumpBody{head: append(head, `,"peers":[`...), snap: s}
	var b bytes.Buffer
	size := d.size()
	if n, err := d.WriteTo(&b); err != nil || n != int64(b.Len()) || b.Len() != size {
		t.Fatalf("WriteTo = %d, %v; wrote %d bytes, size says %d", n, err, b.Len(), size)
	}
	d.done()
	return b.Bytes()
}

// FuzzDumpCache holds dumps made with what the last dump kept to the
// slow path's bytes (every peer parsed, json.Encoder): a random sequence
// of changes to a device's peers (added, removed, counters, handshakes,
// endpoints, keepalives, allowed IPs), each followed by a dump, with now
// and then a read that fails (which must leave nothing wrong behind),
// and reads in any number of parts.
func FuzzDumpCache(f *testing.F) {
	f.Add(uint64(1), uint8(20), uint8(3), uint8(40))
	f.Add(uint64(2), uint8(0), uint8(1), uint8(1))
	f.Add(uint64(3), uint8(200), uint8(7), uint8(5)) // 600 peers: more than one part
	f.Fuzz(func(t *testing.T, seed uint64, start, changes, dumps uint8) {
		r := rand.New(rand.NewPCG(seed, 14))
		d := &fakeDevice{r: r}
		for range 3 * int(start) { // a part is at least 64 KiB, about 220 peers
			d.peers = append(d.peers, d.newPeer())
		}
		var c dumpCache
		for range int(dumps%50) + 1 {
			for range r.IntN(int(changes%16) + 1) {
				d.change()
			}
			if r.IntN(4) == 0 { // every peer's counters moved
				for _, p := range d.peers {
					p.tx++
				}
			}
			parts := r.IntN(4) + 1
			d.shuffle = r.IntN(2) == 0
			if r.IntN(10) == 0 {
				d.err = "public_key=" + strings.Repeat("ab", 32) + "\nbogus=1\n"
				if _, err := c.build(parts, len(d.peers), d.read()); err == nil {
					t.Fatal("a read of a bad reply did not fail")
				}
				d.err = ""
			}
			text := d.text()
			s, err := c.build(parts, len(d.peers), textReader(text))
			if err != nil {
				t.Fatal(err)
			}
			got, want := written(t, "wg0", s), oracle(t, "wg0", text)
			if !bytes.Equal(got, want) {
				at := 0
				for at < min(len(got), len(want)) && got[at] == want[at] {
					at++
				}
				t.Fatalf("dump differs from the slow path's at byte %d of %d (want %d):\n%.300s\nwant\n%.300s", at, len(got), len(want), got[max(0, at-100):], want[max(0, at-100):])
			}
		}
	})
}

// TestDumpCacheReuses: a dump after one with the same peers reuses every
// peer's JSON and the order; after every peer's counters moved, none.
func TestDumpCacheReuses(t *testing.T) {
	d := &fakeDevice{r: rand.New(rand.NewPCG(1, 2))}
	for range 1000 {
		d.peers = append(d.peers, d.newPeer())
	}
	var c dumpCache
	count := func() (knownPeers, parsed int) {
		var mu sync.Mutex
		text := d.text()
		s, err := c.build(2, len(d.peers), func(buf []byte, n int, known tunnel.KnownFunc, fn func(int, *tunnel.PeerView) error) ([]byte, error) {
			buf = append(buf[:0], text...)
			return buf, tunnel.EachPeerInText(unsafe.String(unsafe.SliceData(buf), len(buf)), n, func(part int, key wgtypes.Key, text string) int {
				n := known(part, key, text)
				mu.Lock()
				defer mu.Unlock()
				if n > 0 {
					knownPeers++
				}
				return n
			}, func(part int, v *tunnel.PeerView) error {
				mu.Lock()
				parsed++
				mu.Unlock()
				return fn(part, v)
			})
		})
		if err != nil {
			t.Fatal(err)
		}
		if got, want := written(t, "wg0", s), oracle(t, "wg0", text); !bytes.Equal(got, want) {
			t.Fatal("dump differs from the slow path's")
		}
		return knownPeers, parsed
	}
	if k, p := count(); k != 0 || p != 1000 {
		t.Fatalf("first dump: %d known, %d parsed; want 0, 1000", k, p)
	}
	first := c.last
	if k, p := count(); k != 1000 || p != 0 {
		t.Fatalf("same peers: %d known, %d parsed; want 1000, 0", k, p)
	}
	if c.last.rank == nil || fmt.Sprintf("%p", c.last.rank) != fmt.Sprintf("%p", first.rank) {
		t.Fatal("same keys: the order was not taken from the last dump")
	}
	for _, p := range d.peers {
		p.rx += 1000
	}
	if k, p := count(); k != 0 || p != 1000 {
		t.Fatalf("every counter moved: %d known, %d parsed; want 0, 1000", k, p)
	}
	d.peers[5].tx++
	d.peers = append(d.peers[:10], d.peers[11:]...)
	if k, p := count(); k != 998 || p != 1 {
		t.Fatalf("one changed, one removed: %d known, %d parsed; want 998, 1", k, p)
	}
}

// BenchmarkDumpBuild10k is the agent's part of a dump of 10k peers, from
// the device's text to the JSON written (the device's own IpcGetOperation
// not included): idle, every peer as in the last dump; moved, every
// peer's counters moved since the last; cold, nothing kept.
//
//	go test -run '^$' -bench DumpBuild10k ./agent/
func BenchmarkDumpBuild10k(b *testing.B) {
	d := &fakeDevice{r: rand.New(rand.NewPCG(1, 2))}
	for range 10000 {
		d.peers = append(d.peers, d.newPeer())
	}
	texts := []string{d.text()}
	for _, p := range d.peers {
		p.tx++
	}
	texts = append(texts, d.text())
	for _, tc := range []struct {
		name  string
		texts []string // read in turn
		cold  bool
	}{
		{"idle", texts[:1], false},
		{"moved", texts, false},
		{"cold", texts[:1], true},
	} {
		b.Run(tc.name, func(b *testing.B) {
			var c dumpCache
			n := 0
			for b.Loop() {
				if tc.cold {
					c = dumpCache{}
				}
				text := tc.texts[n%len(tc.texts)]
				n++
				s, err := c.build(2, 10000, textReader(text))
				if err != nil {
					b.Fatal(err)
				}
				d := &dumpBody{head: []byte(`{"interface":"wg0","peers":[`), snap: s}
				if _, err := d.WriteTo(io.Discard); err != nil {
					b.Fatal(err)
				}
				d.done()
			}
		})
	}
}
