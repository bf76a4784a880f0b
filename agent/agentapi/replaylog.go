package agentapi

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"time"
)

// Layout of a replay log: the magic, then fixed-size records, each the
// SHA-256 digest of a remembered key, its expiry in Unix seconds (big
// endian) and a CRC-32C of both.
const (
	replayLogMagic   = "WGRPLY01"
	replayRecordSize = 32 + 8 + 4
	// replayCompactMin is how many records may be appended beyond twice
	// the live ones before the log is rewritten with the live ones only.
	replayCompactMin = 4096
)

var crc32c = crc32.MakeTable(crc32.Castagnoli)

// errReplayLogClosed answers a record after Close.
var errReplayLogClosed = errors.New("replay log closed")

// replayLog makes the replay memory durable: every key the cache remembers
// is appended here and fsynced before the request is accepted, so a
// request accepted once is refused for its whole window even after a
// restart or a crash (kill -9, power loss). Appends are group-committed:
// the first of concurrent callers writes and syncs everything queued, the
// others wait for it, so N requests cost one fsync.
//
// The log only grows by appends; when it holds more than twice the live
// keys plus replayCompactMin records it is rewritten (temp file, fsync,
// rename, fsync of the directory) with the live keys only, so its size is
// bounded by the cache's and the window. A crash can leave a torn or
// garbled tail, never acknowledged: records whose checksum fails are
// skipped on load.
type replayLog struct {
	path     string
	snapshot func() []replayEntry // the live keys, for compaction

	mu       sync.Mutex
	idle     *sync.Cond // signalled when flushing ends
	f        *os.File   // nil once closed
	closing  bool
	pending  []*replayWaiter
	flushing bool // a caller is writing; the others wait
	appended int  // records in the file since it was last rewritten
	live     int  // live keys at the last rewrite
}

type replayWaiter struct {
	rec  [replayRecordSize]byte
	done chan error
}

// openReplayLog reads the log at path (a missing file is an empty log),
// returns the entries that have not expired at now, and rewrites the file
// with those alone, ready for appends. snapshot lists the live keys when
// the log is compacted later.
func openReplayLog(path string, now time.Time, snapshot func() []replayEntry) (*replayLog, []replayEntry, error) {
	entries, err := readReplayLog(path, now)
	if err != nil {
		return nil, nil, err
	}
	l := &replayLog{path: path, snapshot: snapshot}
	l.idle = sync.NewCond(&l.mu)
	if err := l.rewrite(entries); err != nil {
		return nil, nil, err
	}
	return l, entries, nil
}

func readReplayLog(path string, now time.Time) ([]replayEntry, error) {
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("opening replay log: %w", err)
	}
	defer f.Close()
	r := bufio.NewReader(f)
	magic := make([]byte, len(replayLogMagic))
	if _, err := io.ReadFull(r, magic); err != nil || string(magic) != replayLogMagic {
		// An empty file is one a crash left before its first write.
		if errors.Is(err, io.EOF) {
			return nil, nil
		}
		return nil, fmt.Errorf("replay log %s: not a replay log (move it away only if you accept that requests of the last signature window can be replayed once)", path)
	}
	var out []replayEntry
	var rec [replayRecordSize]byte
	for {
		if _, err := io.ReadFull(r, rec[:]); err != nil {
			if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
				return out, nil // a torn tail was never acknowledged
			}
			return nil, fmt.Errorf("reading replay log: %w", err)
		}
		if crc32.Checksum(rec[:40], crc32c) != binary.BigEndian.Uint32(rec[40:]) {
			continue // a garbled record was never acknowledged either
		}
		exp := time.Unix(int64(binary.BigEndian.Uint64(rec[32:40])), 0)
		if exp.After(now) {
			out = append(out, replayEntry{key: string(rec[:32]), exp: exp})
		}
	}
}

func encodeReplayRecord(key string, exp time.Time) [replayRecordSize]byte {
	var rec [replayRecordSize]byte
	copy(rec[:32], key)
	binary.BigEndian.PutUint64(rec[32:40], uint64(exp.Unix()))
	binary.BigEndian.PutUint32(rec[40:], crc32.Checksum(rec[:40], crc32c))
	return rec
}

// record appends key (a 32-byte digest) with its expiry and returns once
// it is on stable storage, or with the error that kept it from getting
// there.
func (l *replayLog) record(key string, exp time.Time) error {
	return l.recordAll([]replayEntry{{key: key, exp: exp}})
}

// recordAll is record for several keys, written together.
func (l *replayLog) recordAll(entries []replayEntry) error {
	ws := make([]*replayWaiter, len(entries))
	for i, e := range entries {
		ws[i] = &replayWaiter{rec: encodeReplayRecord(e.key, e.exp), done: make(chan error, 1)}
	}
	wait := func() error {
		var first error
		for _, w := range ws {
			if err := <-w.done; err != nil && first == nil {
				first = err
			}
		}
		return first
	}
	l.mu.Lock()
	if l.f == nil || l.closing {
		l.mu.Unlock()
		return errReplayLogClosed
	}
	l.pending = append(l.pending, ws...)
	if l.flushing {
		l.mu.Unlock()
		return wait()
	}
	// Lead: write what is queued, again and again until nothing is.
	l.flushing = true
	for len(l.pending) > 0 && !l.closing {
		batch := l.pending
		l.pending = nil
		f := l.f
		l.mu.Unlock()
		err := writeReplayBatch(f, batch)
		l.mu.Lock()
		if err == nil {
			l.appended += len(batch)
			if l.appended > 2*l.live+replayCompactMin {
				// Compaction failing is not the batch's failure: its
				// records are synced in the old file, which stays.
				_ = l.compactLocked()
			}
		}
		for _, b := range batch {
			b.done <- err
		}
	}
	for _, b := range l.pending { // closed meanwhile
		b.done <- errReplayLogClosed
	}
	l.pending = nil
	l.flushing = false
	l.idle.Broadcast()
	l.mu.Unlock()
	return wait()
}

// start is record without the wait: record runs on a goroutine of its
// own (which ends with it: close ends it too), and the function start
// returns waits for it and returns what it returned, the same at every
// call.
func (l *replayLog) start(key string, exp time.Time) func() error {
	done := make(chan error, 1)
	go func() { done <- l.record(key, exp) }()
	return sync.OnceValue(func() error { return <-done })
}

func writeReplayBatch(f *os.File, batch []*replayWaiter) error {
	buf := make([]byte, 0, len(batch)*replayRecordSize)
	for _, b := range batch {
		buf = append(buf, b.rec[:]...)
	}
	if _, err := f.Write(buf); err != nil {
		return fmt.Errorf("appending to replay log: %w", err)
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("syncing replay log: %w", err)
	}
	return nil
}

// compactLocked rewrites the log with the live keys. The caller holds mu
// and is the one writer.
func (l *replayLog) compactLocked() error {
	return l.rewrite(l.snapshot())
}

// rewrite replaces the file with entries, atomically, and reopens it for
// appends.
func (l *replayLog) rewrite(entries []replayEntry) error {
	dir := filepath.Dir(l.path)
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(l.path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("rewriting replay log: %w", err)
	}
	defer os.Remove(tmp.Name()) // no-op after the rename
	buf := make([]byte, 0, len(replayLogMagic)+len(entries)*replayRecordSize)
	buf = append(buf, replayLogMagic...)
	for _, e := range entries {
		rec := encodeReplayRecord(e.key, e.exp)
		buf = append(buf, rec[:]...)
	}
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return fmt.Errorf("rewriting replay log: %w", err)
	}
	if _, err := tmp.Write(buf); err != nil {
		tmp.Close()
		return fmt.Errorf("rewriting replay log: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("rewriting replay log: %w", err)
	}
	if err := os.Rename(tmp.Name(), l.path); err != nil {
		tmp.Close()
		return fmt.Errorf("rewriting replay log: %w", err)
	}
	if d, err := os.Open(dir); err == nil {
		err = d.Sync()
		d.Close()
		if err != nil {
			tmp.Close()
			return fmt.Errorf("syncing directory of replay log: %w", err)
		}
	}
	// tmp is the file now: keep appending to it.
	if _, err := tmp.Seek(0, io.SeekEnd); err != nil {
		tmp.Close()
		return fmt.Errorf("rewriting replay log: %w", err)
	}
	if l.f != nil {
		l.f.Close()
	}
	l.f = tmp
	l.appended = 0
	l.live = len(entries)
	return nil
}

// close lets a batch being written finish, then closes the file; later
// records fail with errReplayLogClosed. It is idempotent.
func (l *replayLog) close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.closing = true
	for l.flushing {
		l.idle.Wait()
	}
	if l.f == nil {
		return nil
	}
	err := l.f.Close()
	l.f = nil
	return err
}
