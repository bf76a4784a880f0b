package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sync"
)

// Group commit. Every write transaction ends in a commit that waits for
// the disk (SQLite fsyncs its WAL; PostgreSQL its log), and on a busy
// host one such wait took 15 ms (docs/BENCHMARKS.md, controller-fleet):
// one commit per InTx capped the controller at some tens of changes a
// second, whatever else it did. So InTx does not run fn itself: it hands
// fn to the store's writer goroutine, which runs the functions waiting
// at that moment (up to maxBatch) one after another in one transaction,
// each inside a savepoint of its own, and commits once (a function alone
// in its batch needs no savepoint: runAlone).
//
// What InTx promises is unchanged: fn runs exactly once, alone (no other
// function's statements interleave with its), under the write lock, and
// what it reads stays true until it commits; its changes are committed
// when it returns nil, and none of them when it returns an error, panics
// (the panic is raised again on the caller's goroutine) or its ctx ended
// (ROLLBACK TO its savepoint). InTx returns once the commit is on disk. A
// failed commit fails every function of the batch. Statements inside fn
// are not interrupted when ctx ends (that would roll back the whole
// transaction, the other functions' work with it); ctx is checked before
// fn runs and after it returns.

// maxBatch bounds the functions one commit carries.
const maxBatch = 64

// writeReq is one InTx waiting for the writer.
type writeReq struct {
	ctx  context.Context
	fn   func(tx *Tx) error
	done chan writeResult // buffered: the writer never waits for the caller
}

// writeResult is how one function ended: its error, or the value it
// panicked with.
type writeResult struct {
	err      error
	panicked bool
	p        any
}

// writer is the goroutine that runs every write transaction of a Store
// opened by Open; it starts there and ends in Close.
type writer struct {
	mu     sync.Mutex // guards queue and closed
	queue  []*writeReq
	closed bool
	wake   chan struct{} // holds a token while the queue may hold work
	done   chan struct{} // closed when the goroutine has ended
}

// startWriter starts the store's writer goroutine.
func (s *Store) startWriter() {
	s.w = &writer{wake: make(chan struct{}, 1), done: make(chan struct{})}
	go s.writeLoop()
}

// stopWriter ends the writer goroutine once it has run what is queued,
// and waits for it. Later submissions fail.
func (s *Store) stopWriter() {
	if s.w == nil {
		return
	}
	s.w.mu.Lock()
	s.w.closed = true
	s.w.mu.Unlock()
	s.w.signal()
	<-s.w.done
}

func (w *writer) signal() {
	select {
	case w.wake <- struct{}{}:
	default:
	}
}

// submit queues r, or reports false once the writer has stopped.
func (w *writer) submit(r *writeReq) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return false
	}
	w.queue = append(w.queue, r)
	w.signal()
	return true
}

// take returns up to maxBatch waiting requests, waiting for one; nil
// once the writer is closed and its queue empty.
func (w *writer) take() []*writeReq {
	for {
		w.mu.Lock()
		if n := min(len(w.queue), maxBatch); n > 0 {
			batch := w.queue[:n:n]
			w.queue = w.queue[n:]
			if len(w.queue) == 0 {
				w.queue = nil
			}
			w.mu.Unlock()
			return batch
		}
		closed := w.closed
		w.mu.Unlock()
		if closed {
			return nil
		}
		<-w.wake
	}
}

func (s *Store) writeLoop() {
	defer close(s.w.done)
	g := goroutineID()
	for {
		batch := s.w.take()
		if batch == nil {
			return
		}
		s.runBatch(g, batch)
	}
}

// submitTx runs fn through the writer (see the top of this file).
func (s *Store) submitTx(ctx context.Context, fn func(tx *Tx) error) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("store: begin: %w", err)
	}
	r := &writeReq{ctx: ctx, fn: fn, done: make(chan writeResult, 1)}
	if !s.w.submit(r) {
		return errors.New("store: begin: the store is closed")
	}
	res := <-r.done
	if res.panicked {
		panic(res.p)
	}
	return res.err
}

// runBatch runs batch in one transaction on the writer's goroutine g.
func (s *Store) runBatch(g uint64, batch []*writeReq) {
	s.boxMu.RLock()
	defer s.boxMu.RUnlock()
	live := batch[:0]
	for _, r := range batch {
		if err := r.ctx.Err(); err != nil {
			r.done <- writeResult{err: fmt.Errorf("store: begin: %w", err)}
			continue
		}
		live = append(live, r)
	}
	if len(live) == 0 {
		return
	}
	failAll := func(rs []*writeReq, err error) {
		for _, r := range rs {
			r.done <- writeResult{err: err}
		}
	}
	stx, err := s.db.BeginTx(context.Background(), nil)
	if err != nil {
		failAll(live, fmt.Errorf("store: begin: %w", err))
		return
	}
	if s.pg != nil {
		if _, err := stx.Exec("SELECT pg_advisory_xact_lock($1)", txLockKey); err != nil {
			_ = stx.Rollback()
			failAll(live, fmt.Errorf("store: begin: taking the transaction lock: %w", err))
			return
		}
	}
	s.owner.Store(g)
	if len(live) == 1 {
		s.runAlone(stx, live[0])
		return
	}
	var ok []*writeReq
	for i, r := range live {
		res, broken := s.runSavepoint(stx, fnSavepoint, r)
		if broken != nil {
			// The transaction is in a state we cannot tell: give it up,
			// and every function in it.
			s.owner.Store(0)
			_ = stx.Rollback()
			failAll(ok, fmt.Errorf("store: commit: %w", broken))
			failAll(live[i+1:], fmt.Errorf("store: begin: %w", broken))
			if res.err == nil && !res.panicked {
				res.err = fmt.Errorf("store: commit: %w", broken)
			}
			r.done <- res
			return
		}
		if res.err != nil || res.panicked {
			r.done <- res // rolled back to its savepoint: the commit does not change that
			continue
		}
		ok = append(ok, r)
	}
	s.owner.Store(0)
	if err := stx.Commit(); err != nil {
		failAll(ok, fmt.Errorf("store: commit: %w", err))
		return
	}
	failAll(ok, nil)
}

// runAlone runs r, the only function of its batch, in stx and ends stx:
// its savepoint would keep nothing apart, so none is made (SAVEPOINT and
// RELEASE cost the writer two statements), and the transaction itself is
// committed when r succeeds, rolled back when it fails, panics or its ctx
// ended: what runSavepoint and the batch's commit would do for it.
func (s *Store) runAlone(stx *sql.Tx, r *writeReq) {
	res := s.callFn(stx, r)
	if res.err == nil && !res.panicked {
		if err := r.ctx.Err(); err != nil {
			res.err = fmt.Errorf("store: %w", err) // ended meanwhile: not committed
		}
	}
	s.owner.Store(0)
	if res.err != nil || res.panicked {
		if err := stx.Rollback(); err != nil && !errors.Is(err, sql.ErrTxDone) && !res.panicked {
			res.err = errors.Join(res.err, fmt.Errorf("store: rollback: %w", err))
		}
		r.done <- res
		return
	}
	if err := stx.Commit(); err != nil {
		r.done <- writeResult{err: fmt.Errorf("store: commit: %w", err)}
		return
	}
	r.done <- writeResult{}
}

// fnSavepoint is the name of the savepoint each function of a batch runs
// in. One name serves them all, since each one's savepoint is released (or
// rolled back to and released) before the next begins; and the driver's
// cache of prepared statements (dsnParams) then holds three savepoint
// statements, not three for each place in a batch, which pushed the
// store's own queries out of it and had them prepared anew.
const fnSavepoint = "wgfleet_fn"

// runSavepoint runs r's function inside savepoint sp of stx and keeps its
// changes (RELEASE) or undoes them (ROLLBACK TO). broken is set when the
// savepoint statements themselves failed.
func (s *Store) runSavepoint(stx *sql.Tx, sp string, r *writeReq) (res writeResult, broken error) {
	if _, err := stx.Exec("SAVEPOINT " + sp); err != nil {
		return writeResult{err: fmt.Errorf("store: begin: %w", err)}, err
	}
	res = s.callFn(stx, r)
	if res.err == nil && !res.panicked {
		if err := r.ctx.Err(); err != nil {
			res.err = fmt.Errorf("store: %w", err) // ended meanwhile: not committed
		}
	}
	if res.err != nil || res.panicked {
		if _, err := stx.Exec("ROLLBACK TO " + sp); err != nil {
			return res, err
		}
	}
	if _, err := stx.Exec("RELEASE " + sp); err != nil {
		return res, err
	}
	return res, nil
}

// callFn calls r's function with a Tx on stx, catching a panic.
func (s *Store) callFn(stx *sql.Tx, r *writeReq) (res writeResult) {
	defer func() {
		if p := recover(); p != nil {
			res = writeResult{panicked: true, p: p}
		}
	}()
	tx := &Tx{tx: sqlTx{tx: stx, pg: s.pg, shield: true}, box: s.box, now: unixTime(s.now().Unix()), hints: s.hints}
	return writeResult{err: callWriteFn(r.fn, tx)}
}
