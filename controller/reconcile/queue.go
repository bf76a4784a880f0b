package reconcile

import (
	"sync"
)

// queue holds the background reconciles waiting for a worker, at most one
// per node: triggers and offers for a node already waiting join its job,
// and one for a node being reconciled makes a job that waits for that
// reconcile to end, since the change or the peer list behind it may be
// newer than that reconcile's snapshot.
type queue struct {
	mu     sync.Mutex // guards the fields below
	order  []int64    // nodes whose job waits for a worker, oldest first
	nodes  map[int64]*slot
	closed bool
	// wake holds a token while there may be work for an idle worker.
	wake chan struct{}
}

// slot is one node in the queue: its job waiting (next), a job running,
// or both. A node without either has no slot.
type slot struct {
	running bool
	next    *job // nil when none waits
}

// job is one background reconcile of one node.
type job struct {
	id int64
	// obs is the newest peer list offered for the node; nil means the
	// reconcile reads it.
	obs *Observation
	// lists: someone waits for the result's drift lists (Offer); without,
	// end drops them (OfferBrief, Trigger).
	lists bool
	done  chan struct{} // closed once res and err are set
	res   Result
	err   error
}

func newQueue() *queue {
	return &queue{nodes: make(map[int64]*slot), wake: make(chan struct{}, 1)}
}

// push asks for a reconcile of the node, with the peer list obs (nil for
// none), and returns the job that will run it; lists asks for its
// result's drift lists (job.lists). After close the job is ended at once
// with ErrStopped.
func (q *queue) push(id int64, obs *Observation, lists bool) *job {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.closed {
		j := &job{id: id, done: make(chan struct{})}
		j.end(Result{NodeID: id}, ErrStopped)
		return j
	}
	s := q.nodes[id]
	if s == nil {
		s = &slot{}
		q.nodes[id] = s
	}
	if s.next == nil {
		s.next = &job{id: id, done: make(chan struct{})}
		if !s.running {
			q.order = append(q.order, id)
			q.signal()
		}
	}
	if obs != nil && (s.next.obs == nil || obs.ReadAt.After(s.next.obs.ReadAt)) {
		s.next.obs = obs
	}
	s.next.lists = s.next.lists || lists
	return s.next
}

// signal leaves a wake token; q.mu is held.
func (q *queue) signal() {
	select {
	case q.wake <- struct{}{}:
	default:
	}
}

// pop takes the next waiting job and marks its node running.
func (q *queue) pop() (*job, bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if len(q.order) == 0 {
		return nil, false
	}
	id := q.order[0]
	q.order = q.order[1:]
	s := q.nodes[id]
	j := s.next
	s.next, s.running = nil, true
	if len(q.order) > 0 {
		q.signal() // more work: wake another worker
	}
	return j, true
}

// finish ends a node's run; a job that came for it meanwhile takes its
// turn now.
func (q *queue) finish(id int64) {
	q.mu.Lock()
	defer q.mu.Unlock()
	s := q.nodes[id]
	s.running = false
	if s.next == nil {
		delete(q.nodes, id)
		return
	}
	q.order = append(q.order, id)
	q.signal()
}

// len is the number of jobs waiting.
func (q *queue) len() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return len(q.order)
}

// close ends every waiting job with ErrStopped; later pushes are ended at
// once. Running jobs end with their reconcile.
func (q *queue) close() {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.closed = true
	for id, s := range q.nodes {
		if s.next != nil {
			s.next.end(Result{NodeID: id}, ErrStopped)
			s.next = nil
		}
		if !s.running {
			delete(q.nodes, id)
		}
	}
	q.order = nil
}

// open takes pushes again after close.
func (q *queue) open() {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.closed = false
}

// end sets the job's outcome, without its drift lists unless asked for,
// and wakes those waiting for it. Nothing pushes to a job that ended or
// runs (push joins only one that waits), so j.lists stays as it was.
func (j *job) end(res Result, err error) {
	if !j.lists {
		res.Drift, res.DriftAfter = nil, nil
	}
	j.res, j.err = res, err
	close(j.done)
}
