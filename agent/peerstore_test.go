package agent

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.zx2c4.com/wireguard/wgctrl/wgtypes"
)

func discardLog() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// loadState reads the peer state of iface in dir as a start would.
func loadState(t *testing.T, dir, iface string) peerSet {
	t.Helper()
	s, set, err := openPeerStore(dir, iface, discardLog())
	if err != nil {
		t.Fatal(err)
	}
	if err := s.close(); err != nil {
		t.Fatal(err)
	}
	return set
}

func samePeers(t *testing.T, got, want peerSet) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%d peers, want %d", len(got), len(want))
	}
	for k, w := range want {
		if g, ok := got[k]; !ok || !g.equal(w) {
			t.Fatalf("peer %s: got %+v (present %v), want %+v", k, g, ok, w)
		}
	}
}

// nthPeer is a peer with a key and address made from n.
func nthPeer(n int) peerConf {
	var k wgtypes.Key
	k[0], k[1], k[2], k[31] = byte(n>>16), byte(n>>8), byte(n), 0x42
	a := netip.AddrFrom4([4]byte{10, byte(n >> 16), byte(n >> 8), byte(n)})
	return peerConf{Key: k, AllowedIPs: []netip.Prefix{netip.PrefixFrom(a, 32)}}
}

// storeBatch commits changes to a table and appends them to s, as the
// committer does, and returns the set after them.
func storeBatch(t *testing.T, s *peerStore, tab *peerTable, f func(*peerTable)) {
	t.Helper()
	f(tab)
	if err := s.append(tab.changes(), nil); err != nil {
		t.Fatal(err)
	}
	tab.keep()
}

func cloneSet(s peerSet) peerSet { return s.clone() }

// TestPeerStoreRoundTrip: batches of additions, updates (preshared key,
// keepalive, IPv6) and removals read back as the set they made, across
// several reopenings, with the files 0600 and no temporary file left.
func TestPeerStoreRoundTrip(t *testing.T) {
	dir := t.TempDir()
	s, set, err := openPeerStore(dir, "wg0", discardLog())
	if err != nil || len(set) != 0 {
		t.Fatalf("fresh store: %v, %d peers", err, len(set))
	}
	tab := newPeerTable(set)
	psk := testKey(t, 9)
	storeBatch(t, s, tab, func(w *peerTable) {
		for n := range 10 {
			w.put(nthPeer(n))
		}
	})
	storeBatch(t, s, tab, func(w *peerTable) {
		c := nthPeer(3)
		c.PSK, c.Keepalive = &psk, 25
		c.AllowedIPs = append(c.AllowedIPs, netip.MustParsePrefix("fd00::3/128"))
		w.put(c)
		w.remove(nthPeer(4).Key)
		w.put(nthPeer(11))
	})
	want := cloneSet(tab.peers)
	if err := s.close(); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		samePeers(t, loadState(t, dir, "wg0"), want)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 2 {
		t.Errorf("files: %v, want the snapshot and the journal", entries)
	}
	for _, e := range entries {
		if st, _ := os.Stat(filepath.Join(dir, e.Name())); st.Mode().Perm() != 0o600 {
			t.Errorf("%s mode %v, want 0600", e.Name(), st.Mode().Perm())
		}
	}
}

// TestPeerStoreCompaction: once the journal outgrows the snapshot (and the
// minimum), the store asks for compaction; after it the journal holds only
// its header, the generation moved on, and the set reads back the same.
func TestPeerStoreCompaction(t *testing.T) {
	dir := t.TempDir()
	s, set, err := openPeerStore(dir, "wg0", discardLog())
	if err != nil {
		t.Fatal(err)
	}
	defer s.close()
	tab := newPeerTable(set)
	n := 0
	for !s.needsCompaction() {
		storeBatch(t, s, tab, func(w *peerTable) {
			for range 500 {
				w.put(nthPeer(n))
				n++
			}
		})
		if n > 100000 {
			t.Fatal("the journal never asked for compaction")
		}
	}
	gen := s.gen
	if err := s.compact(tab.peers); err != nil {
		t.Fatal(err)
	}
	if s.gen != gen+1 || s.needsCompaction() {
		t.Fatalf("after compaction: generation %d (was %d), needs compaction %v", s.gen, gen, s.needsCompaction())
	}
	if s.size > 64 {
		t.Fatalf("journal after compaction: records of %d bytes", s.size)
	}
	journalEndsAt(t, s.journalPath, s.size)
	storeBatch(t, s, tab, func(w *peerTable) { w.remove(nthPeer(0).Key) })
	samePeers(t, loadState(t, dir, "wg0"), tab.peers)
}

// journalEndsAt fails t unless the journal at path holds end bytes of
// records (as far as its length goes) and nothing but zeros after them:
// its preallocated tail, where no torn record is left to be read.
func journalEndsAt(t *testing.T, path string, end int64) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if int64(len(data)) < end {
		t.Fatalf("journal of %d bytes, want its records' %d at least", len(data), end)
	}
	if i := bytes.IndexFunc(data[end:], func(r rune) bool { return r != 0 }); i >= 0 {
		t.Fatalf("journal holds a byte other than zero at %d, after its records' end at %d", end+int64(i), end)
	}
}

// journalWithBatches makes a store with three batches and returns the
// journal's path, the set after two of them, the set after all three,
// where the third record starts and where it ends.
func journalWithBatches(t *testing.T) (dir string, two, three peerSet, lastAt, end int64) {
	t.Helper()
	dir = t.TempDir()
	s, set, err := openPeerStore(dir, "wg0", discardLog())
	if err != nil {
		t.Fatal(err)
	}
	defer s.close()
	tab := newPeerTable(set)
	storeBatch(t, s, tab, func(w *peerTable) {
		for n := range 5 {
			w.put(nthPeer(n))
		}
	})
	storeBatch(t, s, tab, func(w *peerTable) { w.remove(nthPeer(1).Key) })
	two = cloneSet(tab.peers)
	lastAt = s.size
	storeBatch(t, s, tab, func(w *peerTable) {
		for n := 5; n < 8; n++ {
			w.put(nthPeer(n))
		}
		w.remove(nthPeer(2).Key)
	})
	return dir, two, cloneSet(tab.peers), lastAt, s.size
}

// TestPeerStoreTornTail: a crash while the last batch was appended leaves
// any prefix of its record, or garbage, or zeros, at the end of the file or
// in its preallocated zeros: each is dropped as never acknowledged (the set
// is the one before it, never an empty one), the journal is cut there (or
// keeps its zeros when only zeros follow), and appends go on after the
// good part.
func TestPeerStoreTornTail(t *testing.T) {
	dir, two, three, lastAt, end := journalWithBatches(t)
	journal := filepath.Join(dir, "wg0"+journalSuffix)
	full, err := os.ReadFile(journal)
	if err != nil {
		t.Fatal(err)
	}
	if int64(len(full)) <= end {
		t.Fatalf("journal of %d bytes, records of %d: not preallocated", len(full), end)
	}
	full = full[:end] // the records, as a journal before preallocation ends
	samePeers(t, loadState(t, dir, "wg0"), three)
	tails := map[string][]byte{
		"whole":  full,
		"zeros":  append(append([]byte{}, full[:lastAt]...), make([]byte, 300)...),
		"random": append(append([]byte{}, full[:lastAt]...), []byte("\x00\x00\x00\x10garbage that is not a record")...),
	}
	for cut := lastAt; cut < int64(len(full)); cut += max(1, (int64(len(full))-lastAt)/7) {
		tails[fmt.Sprintf("cut at %d", cut)] = full[:cut]
	}
	flipped := append([]byte{}, full...)
	flipped[len(flipped)-3] ^= 0x40
	tails["last record garbled"] = flipped
	for name, data := range maps.Clone(tails) {
		// The same in a preallocated journal: zeros after it.
		tails[name+", then zeros"] = append(append([]byte{}, data...), make([]byte, journalChunk-len(data)%journalChunk)...)
	}
	for name, data := range tails {
		t.Run(name, func(t *testing.T) {
			if err := os.WriteFile(journal, data, 0o600); err != nil {
				t.Fatal(err)
			}
			want, goodEnd := two, lastAt
			if strings.HasPrefix(name, "whole") {
				want, goodEnd = three, end
			}
			s, got, err := openPeerStore(dir, "wg0", discardLog())
			if err != nil {
				t.Fatal(err)
			}
			samePeers(t, got, want)
			if s.size != goodEnd {
				t.Errorf("journal's records end at %d, want %d", s.size, goodEnd)
			}
			journalEndsAt(t, journal, goodEnd)
			tab := newPeerTable(got)
			storeBatch(t, s, tab, func(w *peerTable) { w.put(nthPeer(100)) })
			s.close()
			samePeers(t, loadState(t, dir, "wg0"), tab.peers)
		})
	}
}

// TestPeerStoreCorrupt: damage that a crash cannot make is a loud error
// naming the file, and the files are left as they were: a bad record with
// good ones after it, a record that passes its checksum but does not
// apply, a damaged or truncated snapshot, a journal without its snapshot,
// files of another interface, a journal newer than its snapshot.
func TestPeerStoreCorrupt(t *testing.T) {
	tests := []struct {
		name string
		file string // suffix of the file damaged
		harm func(t *testing.T, dir string, data []byte) []byte
	}{
		{"journal record garbled in the middle", journalSuffix, func(t *testing.T, _ string, d []byte) []byte {
			d[len(journalMagic)+40] ^= 1 // inside the header or the first batch
			return d
		}},
		{"journal not a journal", journalSuffix, func(t *testing.T, _ string, d []byte) []byte { return []byte("hello, world") }},
		{"journal removes a peer that is not there", journalSuffix, func(t *testing.T, _ string, d []byte) []byte {
			return appendFrame(d, encodeBatch([]peerChange{{key: testKey(t, 77), had: true}}))
		}},
		{"journal overlap", journalSuffix, func(t *testing.T, _ string, d []byte) []byte {
			c := nthPeer(0)
			c.Key = testKey(t, 78)
			return appendFrame(d, encodeBatch([]peerChange{{key: c.Key, after: c, has: true}}))
		}},
		{"journal newer than the snapshot", journalSuffix, func(t *testing.T, _ string, d []byte) []byte {
			return appendFrame([]byte(journalMagic), encodeHeader(99, "wg0"))
		}},
		{"journal of another interface", journalSuffix, func(t *testing.T, _ string, d []byte) []byte {
			return appendFrame([]byte(journalMagic), encodeHeader(1, "wg9"))
		}},
		{"snapshot bit flipped", snapshotSuffix, func(t *testing.T, _ string, d []byte) []byte {
			d[len(d)/2] ^= 0x10
			return d
		}},
		{"snapshot truncated", snapshotSuffix, func(t *testing.T, _ string, d []byte) []byte { return d[:len(d)-5] }},
		{"snapshot empty", snapshotSuffix, func(t *testing.T, _ string, d []byte) []byte { return nil }},
		{"snapshot of another interface", snapshotSuffix, func(t *testing.T, _ string, d []byte) []byte {
			return encodeSnapshot(2, "wg9", peerSet{})
		}},
		{"snapshot missing", snapshotSuffix, func(t *testing.T, dir string, d []byte) []byte { return nil }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			s, set, err := openPeerStore(dir, "wg0", discardLog())
			if err != nil {
				t.Fatal(err)
			}
			tab := newPeerTable(set)
			for b := range 3 {
				storeBatch(t, s, tab, func(w *peerTable) {
					for n := range 40 {
						w.put(nthPeer(b*40 + n))
					}
				})
			}
			// A snapshot with peers in it, and a journal with batches.
			if err := s.compact(tab.peers); err != nil {
				t.Fatal(err)
			}
			storeBatch(t, s, tab, func(w *peerTable) { w.put(nthPeer(500)) })
			storeBatch(t, s, tab, func(w *peerTable) { w.put(nthPeer(501)) })
			s.close()

			p := filepath.Join(dir, "wg0"+tt.file)
			data, err := os.ReadFile(p)
			if err != nil {
				t.Fatal(err)
			}
			harmed := tt.harm(t, dir, data)
			if tt.name == "snapshot missing" {
				err = os.Remove(p)
			} else {
				err = os.WriteFile(p, harmed, 0o600)
			}
			if err != nil {
				t.Fatal(err)
			}
			before := readFiles(t, dir)
			_, _, err = openPeerStore(dir, "wg0", discardLog())
			if !errors.Is(err, ErrCorruptState) {
				t.Fatalf("want ErrCorruptState, got %v", err)
			}
			if !strings.Contains(err.Error(), dir) {
				t.Errorf("error does not name the file: %v", err)
			}
			if after := readFiles(t, dir); after != before {
				t.Errorf("files changed by a start that refused them")
			}
		})
	}
}

func readFiles(t *testing.T, dir string) string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	for _, e := range entries {
		data, _ := os.ReadFile(filepath.Join(dir, e.Name()))
		fmt.Fprintf(&b, "%s:%x\n", e.Name(), data)
	}
	return b.String()
}

// TestPeerStoreStaleJournal: a crash between compaction's two renames
// leaves the new snapshot with the journal of the generation before,
// whose batches the snapshot holds: the journal is dropped, not applied a
// second time on top.
func TestPeerStoreStaleJournal(t *testing.T) {
	dir := t.TempDir()
	s, set, err := openPeerStore(dir, "wg0", discardLog())
	if err != nil {
		t.Fatal(err)
	}
	tab := newPeerTable(set)
	storeBatch(t, s, tab, func(w *peerTable) {
		w.put(nthPeer(1))
		w.put(nthPeer(2))
	})
	storeBatch(t, s, tab, func(w *peerTable) { w.remove(nthPeer(1).Key) })
	// The snapshot of the next generation, renamed into place; the
	// crash comes before the new journal.
	if err := writeFileAtomic(s.snapPath, encodeSnapshot(s.gen+1, "wg0", tab.peers)); err != nil {
		t.Fatal(err)
	}
	s.close()
	samePeers(t, loadState(t, dir, "wg0"), tab.peers)
	samePeers(t, loadState(t, dir, "wg0"), tab.peers)
}

func FuzzDecodeSnapshot(f *testing.F) {
	set := peerSet{}
	for n := range 3 {
		c := nthPeer(n)
		set[c.Key] = c
	}
	f.Add(encodeSnapshot(1, "wg0", set))
	f.Add(encodeSnapshot(7, "wg0", peerSet{}))
	f.Fuzz(func(t *testing.T, data []byte) {
		gen, got, err := decodeSnapshot(data, "wg0")
		if err != nil {
			return
		}
		// Whatever decodes must survive a round trip unchanged.
		gen2, again, err := decodeSnapshot(encodeSnapshot(gen, "wg0", got), "wg0")
		if err != nil || gen2 != gen {
			t.Fatalf("round trip: %v, generation %d vs %d", err, gen2, gen)
		}
		samePeers(t, again, got)
	})
}
