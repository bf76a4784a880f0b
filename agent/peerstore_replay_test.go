package agent

import (
	"encoding/binary"
	"errors"
	"hash/crc32"
	"os"
	"slices"
	"testing"
	"time"

	"github.com/wgfleet/wgfleet/agent/agentapi"
)

func recordStrings(recs []agentapi.ReplayRecord) []string {
	out := make([]string, 0, len(recs))
	for _, r := range recs {
		out = append(out, string(r.AppendBinary(nil)))
	}
	slices.Sort(out)
	return out
}

func sameRecords(t *testing.T, got, want []agentapi.ReplayRecord) {
	t.Helper()
	if g, w := recordStrings(got), recordStrings(want); !slices.Equal(g, w) {
		t.Fatalf("%d replay records, want %d (or not the same ones)", len(g), len(w))
	}
}

// TestPeerStoreReplayRecords: replay records appended with batches read
// back after a reopening; one whose batch is torn by a crash reads back
// too (it only refuses a request never answered) while the batch does
// not; compaction hands the records that have not expired to
// persistReplay before it drops the journal, and fails, keeping the
// journal, when that fails.
func TestPeerStoreReplayRecords(t *testing.T) {
	dir := t.TempDir()
	s, set, err := openPeerStore(dir, "wg0", discardLog())
	if err != nil {
		t.Fatal(err)
	}
	tab := newPeerTable(set)
	live, old := time.Now().Add(time.Hour), time.Now().Add(-time.Second)
	r1, r2, r3, gone := testRecord(t, 1, live), testRecord(t, 2, live), testRecord(t, 3, live), testRecord(t, 4, old)
	tab.put(nthPeer(1))
	if err := s.append(tab.changes(), []agentapi.ReplayRecord{r1, gone}); err != nil {
		t.Fatal(err)
	}
	tab.keep()
	before := tab.peers.clone()
	firstEnd := s.size
	tab.put(nthPeer(2))
	if err := s.append(tab.changes(), []agentapi.ReplayRecord{r2}); err != nil {
		t.Fatal(err)
	}
	tab.keep()
	s.close()

	s, set, err = openPeerStore(dir, "wg0", discardLog())
	if err != nil {
		t.Fatal(err)
	}
	samePeers(t, set, tab.peers)
	sameRecords(t, s.replays, []agentapi.ReplayRecord{r1, gone, r2})
	s.close()

	// Torn inside the second batch's frame, after its replay frame.
	full, err := os.ReadFile(s.journalPath)
	if err != nil {
		t.Fatal(err)
	}
	replayFrame := int64(frameHeader + len(encodeReplay([]agentapi.ReplayRecord{r2})))
	if err := os.WriteFile(s.journalPath, full[:firstEnd+replayFrame+5], 0o600); err != nil {
		t.Fatal(err)
	}
	s, set, err = openPeerStore(dir, "wg0", discardLog())
	if err != nil {
		t.Fatal(err)
	}
	samePeers(t, set, before)
	sameRecords(t, s.replays, []agentapi.ReplayRecord{r1, gone, r2})
	tab = newPeerTable(set)
	tab.put(nthPeer(3))
	if err := s.append(tab.changes(), []agentapi.ReplayRecord{r3}); err != nil {
		t.Fatal(err)
	}
	tab.keep()

	failed := errors.New("replay log failed")
	s.persistReplay = func([]agentapi.ReplayRecord) error { return failed }
	if err := s.compact(tab.peers); !errors.Is(err, failed) {
		t.Fatalf("compaction with the replay log failing: %v", err)
	}
	var kept []agentapi.ReplayRecord
	s.persistReplay = func(recs []agentapi.ReplayRecord) error { kept = append(kept, recs...); return nil }
	if err := s.compact(tab.peers); err != nil {
		t.Fatal(err)
	}
	sameRecords(t, kept, []agentapi.ReplayRecord{r1, r2, r3})
	s.close()
	s, set, err = openPeerStore(dir, "wg0", discardLog())
	if err != nil {
		t.Fatal(err)
	}
	defer s.close()
	samePeers(t, set, tab.peers)
	if len(s.replays) != 0 {
		t.Fatalf("the compacted journal holds %d replay records", len(s.replays))
	}
}

// TestPeerStoreStaleJournalReplayRecords: the replay records of a journal
// that a crash in compaction left behind its snapshot are read all the
// same.
func TestPeerStoreStaleJournalReplayRecords(t *testing.T) {
	dir := t.TempDir()
	s, set, err := openPeerStore(dir, "wg0", discardLog())
	if err != nil {
		t.Fatal(err)
	}
	tab := newPeerTable(set)
	r := testRecord(t, 1, time.Now().Add(time.Hour))
	tab.put(nthPeer(1))
	if err := s.append(tab.changes(), []agentapi.ReplayRecord{r}); err != nil {
		t.Fatal(err)
	}
	tab.keep()
	if err := writeFileAtomic(s.snapPath, encodeSnapshot(s.gen+1, "wg0", tab.peers)); err != nil {
		t.Fatal(err)
	}
	s.close()
	s, set, err = openPeerStore(dir, "wg0", discardLog())
	if err != nil {
		t.Fatal(err)
	}
	defer s.close()
	samePeers(t, set, tab.peers)
	sameRecords(t, s.replays, []agentapi.ReplayRecord{r})
}

// TestPeerStoreReadsVersion2: the files of the version before replay
// records (2) are read, and appended to.
func TestPeerStoreReadsVersion2(t *testing.T) {
	dir := t.TempDir()
	s, set, err := openPeerStore(dir, "wg0", discardLog())
	if err != nil {
		t.Fatal(err)
	}
	storeBatch(t, s, newPeerTable(set), func(w *peerTable) { w.put(nthPeer(1)) })
	s.close()
	for _, path := range []string{s.snapPath, s.journalPath} {
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		// The header frame follows the 8-byte magic: its payload's
		// second byte is the version; its checksum follows.
		hdr := data[8:]
		size := binary.BigEndian.Uint32(hdr)
		payload := hdr[frameHeader : frameHeader+size]
		if payload[1] != storeVersion {
			t.Fatalf("%s: version %d, want %d", path, payload[1], storeVersion)
		}
		payload[1] = 2
		binary.BigEndian.PutUint32(hdr[4:], crc32.Checksum(payload, castagnoli))
		if err := os.WriteFile(path, data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	want := peerSet{nthPeer(1).Key: nthPeer(1)}
	s, set, err = openPeerStore(dir, "wg0", discardLog())
	if err != nil {
		t.Fatal(err)
	}
	samePeers(t, set, want)
	tab := newPeerTable(set)
	storeBatch(t, s, tab, func(w *peerTable) { w.put(nthPeer(2)) })
	s.close()
	samePeers(t, loadState(t, dir, "wg0"), tab.peers)
}
