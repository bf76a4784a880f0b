package reconcile

import "sync"

// pushQueue holds the pushes (Push) waiting for a push worker, by node:
// the peers pushed to a node before its turn are pushed together. It is
// apart from the reconciles' queue, with workers of its own, so a burst
// of creations neither waits behind the poller's reconciles nor holds
// them up; the node's reconcile lock keeps a push and a reconcile of one
// node from overlapping.
type pushQueue struct {
	mu      sync.Mutex // guards the fields below
	order   []int64    // nodes whose pushes wait, oldest first
	waiting map[int64][]pushed
	running map[int64][]pushed // nodes a worker is pushing to now, and what
	closed  bool
	// wake holds a token while there may be work for an idle worker.
	wake chan struct{}
	// recs holds what pushes confirmed, for the recorder (pushrecord.go).
	recs *pushRecords
}

func newPushQueue() *pushQueue {
	return &pushQueue{waiting: make(map[int64][]pushed), running: make(map[int64][]pushed), wake: make(chan struct{}, 1),
		recs: newPushRecords()}
}

// push adds ps to the node's waiting pushes, all at once (a worker takes
// them together); dropped after close.
func (q *pushQueue) push(nodeID int64, ps ...pushed) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.closed {
		return
	}
	w, queued := q.waiting[nodeID]
	q.waiting[nodeID] = append(w, ps...)
	if _, running := q.running[nodeID]; !queued && !running {
		q.order = append(q.order, nodeID)
		q.signal()
	}
}

// signal leaves a wake token; q.mu is held.
func (q *pushQueue) signal() {
	select {
	case q.wake <- struct{}{}:
	default:
	}
}

// pop takes the next node's waiting pushes and marks the node running.
func (q *pushQueue) pop() (int64, []pushed, bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if len(q.order) == 0 {
		return 0, nil, false
	}
	id := q.order[0]
	q.order = q.order[1:]
	ps := q.waiting[id]
	delete(q.waiting, id)
	q.running[id] = ps
	if len(q.order) > 0 {
		q.signal() // more work: wake another worker
	}
	return id, ps, true
}

// finish ends a node's push; pushes that came for it meanwhile take
// their turn now.
func (q *pushQueue) finish(nodeID int64) {
	q.mu.Lock()
	defer q.mu.Unlock()
	delete(q.running, nodeID)
	if _, waiting := q.waiting[nodeID]; waiting && !q.closed {
		q.order = append(q.order, nodeID)
		q.signal()
	}
}

// addGens adds to gens the generations of the pushes waiting for node
// nodeID or being pushed to it now; nothing once closed (their peers are
// left to the reconciles).
func (q *pushQueue) addGens(nodeID int64, gens map[int64]bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.closed {
		return
	}
	for _, ps := range [][]pushed{q.waiting[nodeID], q.running[nodeID]} {
		for _, p := range ps {
			gens[p.gen] = true
		}
	}
}

// close drops every waiting push and later ones: the peers stay pending
// for the next reconcile.
// open takes pushes again after close (a replica that leads again).
func (q *pushQueue) open() {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.closed = false
}

func (q *pushQueue) close() {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.closed = true
	q.order = nil
	clear(q.waiting)
}
