package agent

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// copyState copies the interface's peer files from dir to a new directory,
// as a crash would leave them right now (every append made so far was
// synced), and returns it.
func copyState(t *testing.T, dir string) string {
	t.Helper()
	to := t.TempDir()
	for _, suffix := range []string{snapshotSuffix, journalSuffix} {
		data, err := os.ReadFile(filepath.Join(dir, "wg0"+suffix))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(to, "wg0"+suffix), data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return to
}

// TestPeerStorePreallocatedAppends: the journal file is preallocated with
// zeros in steps of journalChunk, and an append that fits in them (synced
// with fdatasync) leaves the file's length as it was: every change of the
// length is an append past the zeros, which is fsynced. Whatever the
// appends left, at any point, reads back as the set, zeros and all, and
// appends go on after a reopening.
func TestPeerStorePreallocatedAppends(t *testing.T) {
	dir := t.TempDir()
	s, set, err := openPeerStore(dir, "wg0", discardLog())
	if err != nil {
		t.Fatal(err)
	}
	defer func() { s.close() }()
	tab := newPeerTable(set)
	length := func() int64 {
		st, err := os.Stat(s.journalPath)
		if err != nil {
			t.Fatal(err)
		}
		return st.Size()
	}
	if got := length(); got != journalChunk || s.alloc != got || s.size >= got {
		t.Fatalf("new journal: %d bytes, records %d, preallocated %d; want %d", got, s.size, s.alloc, journalChunk)
	}
	// Small chunks, so that appends cross their ends often, by a few
	// bytes or by several chunks.
	const chunk = 512
	s.chunk = chunk
	if err := s.compact(tab.peers); err != nil {
		t.Fatal(err)
	}
	within, grown, n := 0, 0, 0
	for grown < 40 {
		alloc, before := s.alloc, length()
		storeBatch(t, s, tab, func(w *peerTable) {
			// One peer added and, now and then, a batch of many: the
			// large ones cross more than a chunk at once.
			size := 1
			if n%97 == 0 {
				size = 40
			}
			for range size {
				w.put(nthPeer(n))
				n++
			}
			if n > 2 {
				w.remove(nthPeer(n - 2).Key)
			}
		})
		after := length()
		switch {
		case after != s.alloc || s.alloc%chunk != 0 || s.size >= s.alloc:
			t.Fatalf("after an append: %d bytes, records %d, preallocated %d", after, s.size, s.alloc)
		case s.alloc == alloc && after != before:
			t.Fatalf("an append synced as fitting in the zeros changed the file's length from %d to %d", before, after)
		case s.alloc == alloc:
			within++
		default:
			grown++
		}
		journalEndsAt(t, s.journalPath, s.size)
		if within%10 == 0 || s.alloc != alloc {
			samePeers(t, loadState(t, copyState(t, dir), "wg0"), tab.peers)
		}
	}
	if within < 40 {
		t.Fatalf("only %d appends fitted in the preallocated zeros", within)
	}
	s.close()
	s, set, err = openPeerStore(dir, "wg0", discardLog())
	if err != nil {
		t.Fatal(err)
	}
	samePeers(t, set, tab.peers)
	if got := length(); got != s.alloc || s.alloc%chunk != 0 {
		t.Fatalf("reopened: %d bytes, preallocated %d: the zeros were not kept", got, s.alloc)
	}
	tab = newPeerTable(set)
	storeBatch(t, s, tab, func(w *peerTable) { w.put(nthPeer(n + 1)) })
	samePeers(t, loadState(t, copyState(t, dir), "wg0"), tab.peers)
}

// FuzzJournalTail: whatever follows the good records of a preallocated
// journal (zeros, a torn record, garbage, zeros after garbage) a start
// either refuses as ErrCorruptState, leaving the files alone, or reads the
// good records and what whole records the tail starts with, never fewer;
// then only zeros follow the records it kept, so an append after them
// reads back with nothing of the tail brought back.
func FuzzJournalTail(f *testing.F) {
	f.Add([]byte{}, uint16(1000))
	f.Add([]byte{0, 0, 0, 0}, uint16(0))
	f.Add([]byte{0, 0, 0, 0x20, 1, 2, 3, 4, 5}, uint16(300))
	f.Add([]byte("\x00\x00\x00\x10garbage that is not a record"), uint16(40))
	f.Add(appendFrame(nil, encodeBatch([]peerChange{{key: nthPeer(9).Key, after: nthPeer(9), has: true}})), uint16(7))
	torn := appendFrame(nil, encodeBatch([]peerChange{{key: nthPeer(8).Key, after: nthPeer(8), has: true}}))
	f.Add(torn[:len(torn)-3], uint16(100))
	f.Fuzz(func(t *testing.T, tail []byte, zeros uint16) {
		dir := t.TempDir()
		s, set, err := openPeerStore(dir, "wg0", discardLog())
		if err != nil {
			t.Fatal(err)
		}
		tab := newPeerTable(set)
		for b := range 2 {
			storeBatch(t, s, tab, func(w *peerTable) {
				for n := range 3 {
					w.put(nthPeer(b*3 + n))
				}
			})
		}
		good, end := tab.peers.clone(), s.size
		s.close()
		data, err := os.ReadFile(s.journalPath)
		if err != nil {
			t.Fatal(err)
		}
		data = append(append(data[:end], tail...), make([]byte, zeros)...)
		if err := os.WriteFile(s.journalPath, data, 0o600); err != nil {
			t.Fatal(err)
		}
		before := readFiles(t, dir)
		s, got, err := openPeerStore(dir, "wg0", discardLog())
		if err != nil {
			if !errors.Is(err, ErrCorruptState) {
				t.Fatalf("want ErrCorruptState or a start, got %v", err)
			}
			if readFiles(t, dir) != before {
				t.Fatal("files changed by a start that refused them")
			}
			return
		}
		defer s.close()
		for k, c := range good {
			if g, ok := got[k]; !ok || !g.equal(c) {
				t.Fatalf("peer %s of the good records lost", k)
			}
		}
		if s.size < end || string(data[:s.size]) != string(readPrefix(t, s.journalPath, s.size)) {
			t.Fatalf("records kept up to %d, of the good %d, not as they were", s.size, end)
		}
		journalEndsAt(t, s.journalPath, s.size)
		tab = newPeerTable(got)
		storeBatch(t, s, tab, func(w *peerTable) { w.put(nthPeer(100)) })
		samePeers(t, loadState(t, copyState(t, dir), "wg0"), tab.peers)
	})
}

// readPrefix is the first n bytes of the file at path.
func readPrefix(t *testing.T, path string, n int64) []byte {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil || int64(len(data)) < n {
		t.Fatalf("reading %s: %v, %d bytes of %d", path, err, len(data), n)
	}
	return data[:n]
}
