package reconcile

import (
	"context"
	"errors"
	"sync"
)

// queue holds the nodes waiting for a background reconcile, each at most
// once: triggers for a node already waiting coalesce, and a trigger for a
// node being reconciled queues it once more after that reconcile, since
// the change behind the trigger may have come after its snapshot.
type queue struct {
	mu     sync.Mutex // guards the fields below
	order  []int64
	state  map[int64]queued
	closed bool
	// wake holds a token while there may be work for an idle worker.
	wake chan struct{}
}

type queued int

const (
	waiting      queued = iota + 1 // in order
	running                        // a worker has it
	runningAgain                   // a worker has it and it was triggered since
)

func newQueue() *queue {
	return &queue{state: make(map[int64]queued), wake: make(chan struct{}, 1)}
}

// push adds a node unless it is waiting already.
func (q *queue) push(id int64) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.closed {
		return
	}
	switch q.state[id] {
	case waiting, runningAgain:
		return
	case running:
		q.state[id] = runningAgain
		return
	}
	q.state[id] = waiting
	q.order = append(q.order, id)
	q.signal()
}

// signal leaves a wake token; q.mu is held.
func (q *queue) signal() {
	select {
	case q.wake <- struct{}{}:
	default:
	}
}

// pop takes the next waiting node and marks it running.
func (q *queue) pop() (int64, bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if len(q.order) == 0 {
		return 0, false
	}
	id := q.order[0]
	q.order = q.order[1:]
	q.state[id] = running
	if len(q.order) > 0 {
		q.signal() // more work: wake another worker
	}
	return id, true
}

// finish ends a node's run, queueing it again if it was triggered meanwhile.
func (q *queue) finish(id int64) {
	q.mu.Lock()
	defer q.mu.Unlock()
	again := q.state[id] == runningAgain
	delete(q.state, id)
	if again && !q.closed {
		q.state[id] = waiting
		q.order = append(q.order, id)
		q.signal()
	}
}

// len is the number of nodes waiting.
func (q *queue) len() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return len(q.order)
}

func (q *queue) close() {
	q.mu.Lock()
	q.closed = true
	q.mu.Unlock()
}

// Trigger asks for a background reconcile of the node. It never blocks; a
// node is queued once however often it is triggered before its turn.
// Triggers before Start wait for it; after Close they are dropped.
func (r *Reconciler) Trigger(nodeID int64) { r.q.push(nodeID) }

// Start runs the background workers until ctx is done or Close is called.
// Only the first call starts anything; after Close it does nothing.
func (r *Reconciler) Start(ctx context.Context) {
	r.lifeMu.Lock()
	defer r.lifeMu.Unlock()
	if r.started || r.closed {
		return
	}
	r.started = true
	ctx, r.cancel = context.WithCancel(ctx)
	for range r.workers {
		r.wg.Add(1)
		go r.work(ctx)
	}
	go func() {
		r.wg.Wait()
		r.q.close()
		close(r.done)
	}()
}

// Close stops the workers and waits for them; a reconcile in progress
// ends at its next call to the agent, recording what was applied. It is
// idempotent.
func (r *Reconciler) Close() {
	r.lifeMu.Lock()
	if !r.closed {
		r.closed = true
		if r.started {
			r.cancel()
		} else {
			r.q.close()
			close(r.done)
		}
	}
	r.lifeMu.Unlock()
	<-r.done
}

// Done is closed when the workers have exited (after Close, or when the
// context given to Start is done).
func (r *Reconciler) Done() <-chan struct{} { return r.done }

// work is one background worker.
func (r *Reconciler) work(ctx context.Context) {
	defer r.wg.Done()
	for {
		if ctx.Err() != nil {
			return
		}
		id, ok := r.q.pop()
		if !ok {
			select {
			case <-ctx.Done():
				return
			case <-r.q.wake:
				continue
			}
		}
		res, err := r.reconcile(ctx, id, nil, false)
		r.q.finish(id)
		switch {
		case err == nil, ctx.Err() != nil:
		case errors.Is(err, ErrUnreachable):
			// The poller reports the node offline; the peers stay
			// pending until the agent answers.
			r.log.Debug("background reconcile: agent unreachable", "node_id", id, "err", err)
		default:
			r.log.Warn("background reconcile failed", "node_id", id, "calls", res.Calls, "err", err)
		}
	}
}
