package agent

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/wgfleet/wgfleet/agent/agentapi"
)

// File names of an interface's peer state in the state directory, and the
// magic that opens each.
const (
	snapshotSuffix = ".peers.snap"
	journalSuffix  = ".peers.journal"
	legacySuffix   = ".peers.json" // the format before the journal, migrated on first start
	snapshotMagic  = "WGFLSNP2"
	journalMagic   = "WGFLJRN2"

	// minCompact is the journal size below which it is never compacted:
	// past it, compaction happens once the journal outgrows the snapshot.
	minCompact = 1 << 20
	// snapshotBatch is how many peers one batch record of a snapshot holds.
	snapshotBatch = 4096
	// journalChunk is the step in which the journal file is preallocated
	// with zeros, ahead of its records (see peerStore).
	journalChunk = 256 << 10
)

// ErrCorruptState means the peer state on disk cannot be read back. The
// agent refuses to start rather than come up with a silently empty
// interface.
var ErrCorruptState = errors.New("corrupt peer state file")

// peerStore keeps one interface's desired peers on disk so that a change
// costs its own size, not the set's: a snapshot of the whole set and a
// journal of the batches committed since, both mode 0600 (they hold
// preshared keys).
//
// Each batch is one checksummed record appended to the journal and made
// durable before the batch is answered. A crash can tear only the record
// being appended, which was never answered: on load a torn or garbled
// last record is dropped (and the file cut there), never taken for the end
// of a shorter set; a bad record followed by more records, a record that
// does not decode, or any fault of the snapshot, is ErrCorruptState.
//
// The journal file is preallocated: its records are followed by zeros, up
// to a multiple of journalChunk, written and fsynced before any record is
// put there. An append that fits in the zeros does not change the file's
// size, so fdatasync makes it durable (syncData): on a journaling file
// system that spares the journal's commit of the inode's timestamps, a
// change's fsync costing one write and a flush instead of three writes
// and two flushes. An append that does not fit writes its record and the
// next chunk of zeros at once and is fsynced whole. The records end where
// a frame does not decode: no frame is empty, so a zero length is the
// preallocated tail, kept as it is on load; anything else there is a torn
// record, dropped and cut as above (the next chunk of zeros is written
// again by the next append that needs it).
//
// Compaction writes the whole set as a new snapshot and starts an empty
// journal, each atomically (temp file, fsync, rename, fsync of the
// directory). Both carry a generation: the journal applies to the
// snapshot of its generation, and a journal older than the snapshot (a
// crash between the two renames) is already in it and is dropped.
//
// The format before the journal (one JSON file, rewritten whole at every
// change) is read once, on the first start, and replaced.
//
// A peerStore is used by one goroutine at a time (the committer, or the
// start before it).
type peerStore struct {
	iface                          string
	snapPath, journalPath, legPath string
	log                            *slog.Logger

	gen      uint64
	f        *os.File // the journal, for appends; nil after a failed write until compaction
	size     int64    // the journal's records' length: where the next one goes
	alloc    int64    // the journal file's length: zeros from size up to it
	chunk    int64    // the step of preallocation: journalChunk (tests take less)
	snapSize int64

	// replays are the replay records in the journal (appended with the
	// batches of their requests, or read back at start); compaction,
	// which drops the journal, first hands those not expired to
	// persistReplay (the replay log), which must not be nil then.
	replays       []agentapi.ReplayRecord
	persistReplay func([]agentapi.ReplayRecord) error
}

// openPeerStore reads the peer state of iface in dir and returns it with
// the set it holds, ready for appends.
func openPeerStore(dir, iface string, log *slog.Logger) (*peerStore, peerSet, error) {
	s := &peerStore{
		iface:       iface,
		snapPath:    filepath.Join(dir, iface+snapshotSuffix),
		journalPath: filepath.Join(dir, iface+journalSuffix),
		legPath:     filepath.Join(dir, iface+legacySuffix),
		log:         log,
		chunk:       journalChunk,
	}
	set, err := s.load()
	if err != nil {
		return nil, nil, err
	}
	return s, set, nil
}

func (s *peerStore) corrupt(path string, err error) error {
	return fmt.Errorf("%w %s: %v (move it away to start with no peers)", ErrCorruptState, path, err)
}

func (s *peerStore) load() (peerSet, error) {
	data, err := os.ReadFile(s.snapPath)
	if errors.Is(err, fs.ErrNotExist) {
		// Compaction writes the snapshot before the journal, so a
		// journal alone means the snapshot was lost.
		if _, jerr := os.Stat(s.journalPath); jerr == nil {
			return nil, s.corrupt(s.journalPath, fmt.Errorf("the snapshot %s is missing", s.snapPath))
		}
		return s.start()
	}
	if err != nil {
		return nil, fmt.Errorf("reading peer snapshot %s: %w", s.snapPath, err)
	}
	gen, set, err := decodeSnapshot(data, s.iface)
	if err != nil {
		return nil, s.corrupt(s.snapPath, err)
	}
	s.gen, s.snapSize = gen, int64(len(data))
	if err := s.removeLegacy(); err != nil { // a crash in the middle of the migration
		return nil, err
	}
	good, zeros, fresh, err := s.replay(set)
	if err != nil {
		return nil, err
	}
	if err := set.checkOverlap(); err != nil {
		return nil, s.corrupt(s.journalPath, err)
	}
	if fresh {
		if err := s.newJournal(s.gen); err != nil {
			return nil, err
		}
		return set, nil
	}
	if err := s.openJournal(good, zeros); err != nil {
		return nil, err
	}
	return set, nil
}

// start makes the files on a first start, from the legacy state file if
// there is one.
func (s *peerStore) start() (peerSet, error) {
	set, err := loadLegacyState(s.legPath, s.iface)
	if err != nil {
		return nil, err
	}
	if err := s.compact(set); err != nil {
		return nil, err
	}
	if _, err := os.Stat(s.legPath); err == nil {
		s.log.Info("peer state migrated to snapshot and journal", "iface", s.iface, "peers", len(set), "from", s.legPath)
	}
	if err := s.removeLegacy(); err != nil {
		return nil, err
	}
	return set, nil
}

func (s *peerStore) removeLegacy() error {
	err := os.Remove(s.legPath)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("removing migrated peer state %s: %w", s.legPath, err)
	}
	return syncDir(filepath.Dir(s.legPath))
}

// replay applies the journal to set. It returns the length of the good
// part of the journal and whether only zeros follow it (the preallocated
// tail), or fresh when there is no journal of the snapshot's generation to
// append to.
func (s *peerStore) replay(set peerSet) (good int64, zeros, fresh bool, err error) {
	data, err := os.ReadFile(s.journalPath)
	if errors.Is(err, fs.ErrNotExist) {
		return 0, false, true, nil
	}
	if err != nil {
		return 0, false, false, fmt.Errorf("reading peer journal %s: %w", s.journalPath, err)
	}
	if len(data) < len(journalMagic) || string(data[:len(journalMagic)]) != journalMagic {
		return 0, false, false, s.corrupt(s.journalPath, errors.New("not a peer journal"))
	}
	rest := data[len(journalMagic):]
	p, n, err := nextFrame(rest)
	if err != nil {
		return 0, false, false, s.corrupt(s.journalPath, errors.New("no header record"))
	}
	gen, iface, err := decodeHeader(p)
	switch {
	case err != nil:
		return 0, false, false, s.corrupt(s.journalPath, err)
	case iface != s.iface:
		return 0, false, false, s.corrupt(s.journalPath, fmt.Errorf("journal is for interface %q, not %q", iface, s.iface))
	case gen < s.gen:
		// Compaction wrote the snapshot and stopped before the new
		// journal: every batch here is in the snapshot, and its replay
		// records were handed to the replay log before the snapshot was
		// written; they are read all the same, as long as they are good.
		s.replays = replayRecordsIn(data[len(journalMagic)+n:], s.replays)
		return 0, false, true, nil
	case gen > s.gen:
		return 0, false, false, s.corrupt(s.journalPath, fmt.Errorf("journal generation %d is newer than the snapshot's %d", gen, s.gen))
	}
	off := len(journalMagic) + n
	for off < len(data) {
		p, n, err := nextFrame(data[off:])
		if err != nil {
			if allZero(data[off:]) { // the preallocated tail
				break
			}
			// Only the last append can be torn; a bad record with good
			// ones after it is damage, not a crash.
			if nextGood(data[off+1:]) {
				return 0, false, false, s.corrupt(s.journalPath, fmt.Errorf("bad record at byte %d followed by good ones", off))
			}
			s.log.Warn("peer journal ends with a torn record, which was never acknowledged: dropping it",
				"iface", s.iface, "file", s.journalPath, "at", off, "bytes", len(data)-off)
			return int64(off), false, false, nil
		}
		if p[0] == recReplay {
			if s.replays, err = decodeReplay(p, s.replays); err != nil {
				return 0, false, false, s.corrupt(s.journalPath, fmt.Errorf("record at byte %d: %w", off, err))
			}
		} else if err := applyBatch(p, set); err != nil {
			return 0, false, false, s.corrupt(s.journalPath, fmt.Errorf("record at byte %d: %w", off, err))
		}
		off += n
	}
	return int64(off), true, false, nil
}

// allZero reports whether data holds only zero bytes.
func allZero(data []byte) bool {
	for _, b := range data {
		if b != 0 {
			return false
		}
	}
	return true
}

// replayRecordsIn appends to recs the replay records of the good frames
// at the start of data.
func replayRecordsIn(data []byte, recs []agentapi.ReplayRecord) []agentapi.ReplayRecord {
	for len(data) > 0 {
		p, n, err := nextFrame(data)
		if err != nil {
			break
		}
		if p[0] == recReplay {
			if more, err := decodeReplay(p, recs); err == nil {
				recs = more
			}
		}
		data = data[n:]
	}
	return recs
}

// nextGood reports whether a good frame starts anywhere in data: after a
// bad record, it tells damage in the middle from a torn end.
func nextGood(data []byte) bool {
	for i := range data {
		if p, _, err := nextFrame(data[i:]); err == nil && len(p) > 0 && (p[0] == recBatch || p[0] == recReplay) {
			return true
		}
	}
	return false
}

// openJournal opens the journal for appends after its good length. When
// only zeros follow that (zeros), they are kept as its preallocated tail;
// otherwise the file is cut there. Either way the file's length is made
// durable before the first append relies on it.
func (s *peerStore) openJournal(good int64, zeros bool) error {
	f, err := os.OpenFile(s.journalPath, os.O_WRONLY, 0)
	if err != nil {
		return fmt.Errorf("opening peer journal: %w", err)
	}
	st, err := f.Stat()
	alloc := good
	if err == nil {
		switch {
		case st.Size() == good:
		case zeros:
			alloc = st.Size()
			err = f.Sync()
		default:
			if err = f.Truncate(good); err == nil {
				err = f.Sync()
			}
		}
	}
	if err != nil {
		f.Close()
		return fmt.Errorf("opening peer journal: %w", err)
	}
	s.f, s.size, s.alloc = f, good, alloc
	return nil
}

// newJournal replaces the journal with an empty one of generation gen,
// preallocated.
func (s *peerStore) newJournal(gen uint64) error {
	data := appendFrame([]byte(journalMagic), encodeHeader(gen, s.iface))
	good := int64(len(data))
	data = append(data, make([]byte, s.preallocated(good)-good)...)
	if err := writeFileAtomic(s.journalPath, data); err != nil {
		return fmt.Errorf("starting peer journal: %w", err)
	}
	return s.openJournal(good, true)
}

// preallocated is the length of a journal file whose records end at end:
// the next multiple of the chunk, at least one zero byte after them.
func (s *peerStore) preallocated(end int64) int64 { return (end/s.chunk + 1) * s.chunk }

// append writes the batch cs to the journal, after the replay records
// recs of its requests (if any), and syncs it: one write and one fsync
// for both, so a request's change and its record against replays are
// durable together. A crash that tears the batch leaves at most its
// replay records, which only refuse requests never answered. On failure
// the journal is unusable until the next compaction, which the committer
// runs after it answered the batch.
func (s *peerStore) append(cs []peerChange, recs []agentapi.ReplayRecord) error {
	if s.f == nil {
		return errors.New("peer journal unusable after a failed write; compacting")
	}
	var buf []byte
	if len(recs) > 0 {
		buf = appendFrame(buf, encodeReplay(recs))
	}
	buf = appendFrame(buf, encodeBatch(cs))
	end, alloc := s.size+int64(len(buf)), s.alloc
	sync := syncData // the file's length does not change
	if end > alloc {
		// Past the zeros: the record and the next chunk of zeros in one
		// write, and the file's new length made durable with them.
		alloc = s.preallocated(end)
		buf = append(buf, make([]byte, alloc-end)...)
		sync = (*os.File).Sync
	}
	_, err := s.f.WriteAt(buf, s.size)
	if err == nil {
		err = sync(s.f)
	}
	if err != nil {
		s.f.Close()
		s.f = nil
		return fmt.Errorf("appending to peer journal %s: %w", s.journalPath, err)
	}
	s.size, s.alloc = end, alloc
	s.replays = append(s.replays, recs...)
	return nil
}

// needsCompaction reports whether the journal has outgrown the snapshot
// (or is unusable).
func (s *peerStore) needsCompaction() bool {
	return s.f == nil || s.size > max(minCompact, s.snapSize)
}

// compact writes set as the snapshot of the next generation and starts
// its empty journal. If the snapshot cannot be written nothing changed;
// if the journal cannot, appends fail until a compaction succeeds.
func (s *peerStore) compact(set peerSet) error {
	if err := s.keepReplay(); err != nil {
		return err
	}
	gen := s.gen + 1
	data := encodeSnapshot(gen, s.iface, set)
	if err := writeFileAtomic(s.snapPath, data); err != nil {
		return fmt.Errorf("writing peer snapshot: %w", err)
	}
	s.gen, s.snapSize = gen, int64(len(data))
	if s.f != nil {
		s.f.Close()
		s.f = nil
	}
	return s.newJournal(gen)
}

// keepReplay hands the journal's replay records that have not expired to
// persistReplay, before compaction drops the journal.
func (s *peerStore) keepReplay() error {
	now := time.Now()
	live := slices.DeleteFunc(s.replays, func(r agentapi.ReplayRecord) bool { return r.Expired(now) })
	if len(live) > 0 {
		if s.persistReplay == nil {
			return errors.New("the peer journal holds replay records and nothing to keep them in")
		}
		if err := s.persistReplay(live); err != nil {
			return fmt.Errorf("keeping the peer journal's replay records: %w", err)
		}
	}
	s.replays = nil
	return nil
}

func (s *peerStore) close() error {
	if s.f == nil {
		return nil
	}
	err := s.f.Close()
	s.f = nil
	return err
}

func encodeSnapshot(gen uint64, iface string, set peerSet) []byte {
	buf := make([]byte, 0, 64+len(set)*64)
	buf = append(buf, snapshotMagic...)
	buf = appendFrame(buf, encodeHeader(gen, iface))
	batch := make([]peerChange, 0, min(len(set), snapshotBatch))
	for _, c := range set {
		batch = append(batch, peerChange{key: c.Key, after: c, has: true})
		if len(batch) == snapshotBatch {
			buf = appendFrame(buf, encodeBatch(batch))
			batch = batch[:0]
		}
	}
	if len(batch) > 0 {
		buf = appendFrame(buf, encodeBatch(batch))
	}
	end := []byte{recEnd}
	end = binary.AppendUvarint(end, uint64(len(set)))
	return appendFrame(buf, end)
}

// decodeSnapshot reads a snapshot whole: it was written atomically, so
// anything short of that is damage.
func decodeSnapshot(data []byte, iface string) (uint64, peerSet, error) {
	if len(data) < len(snapshotMagic) || string(data[:len(snapshotMagic)]) != snapshotMagic {
		return 0, nil, errors.New("not a peer snapshot")
	}
	off := len(snapshotMagic)
	p, n, err := nextFrame(data[off:])
	if err != nil {
		return 0, nil, fmt.Errorf("header: %w", err)
	}
	gen, name, err := decodeHeader(p)
	if err != nil {
		return 0, nil, err
	}
	if name != iface {
		return 0, nil, fmt.Errorf("snapshot is for interface %q, not %q", name, iface)
	}
	off += n
	set := peerSet{}
	for {
		p, n, err := nextFrame(data[off:])
		if err != nil {
			return 0, nil, fmt.Errorf("record at byte %d: %w", off, err)
		}
		off += n
		if len(p) > 0 && p[0] == recEnd {
			r := reader{b: p[1:]}
			count := r.uvarint()
			switch {
			case r.err != nil || len(r.b) != 0:
				return 0, nil, errors.New("malformed end record")
			case count != uint64(len(set)):
				return 0, nil, fmt.Errorf("snapshot holds %d peers, its end record says %d", len(set), count)
			case off != len(data):
				return 0, nil, errors.New("data after the end record")
			}
			return gen, set, nil
		}
		before := len(set)
		if err := applyBatch(p, set); err != nil {
			return 0, nil, fmt.Errorf("record at byte %d: %w", off-n, err)
		}
		if len(set) < before {
			return 0, nil, fmt.Errorf("record at byte %d removes peers", off-n)
		}
	}
}
