package reconcile

import (
	"context"
	"sync"

	"github.com/wgfleet/wgfleet/controller/store"
)

// The push recorder. A push counts a peer as applied only once the dump
// read after its add shows it, and then writes that down (recordPushed).
// Pushes used to wait for that commit, under the node's reconcile lock
// and holding their worker and their node's turn, so under a burst of
// creations every push of a node waited for the previous one's group
// commit. Now a push hands what its dump confirmed to the recorder and
// lets its node go; the recorder (one goroutine of Run) writes what every
// push confirmed meanwhile, over all nodes, in one write transaction.
//
// Nothing is taken on trust by recording later: recordPushed marks a peer
// applied only if, in its transaction, it is still pending with the very
// desired state that was sent, as it did when pushes waited; a reconcile
// of the node that ran in between (it may: the node is free) finds the
// peer on the agent and records it itself, and the recorder then skips it.

// maxRecordPeers bounds the peers one recording transaction marks, so
// that the function the store's writer runs for it stays short beside
// the creations it shares a commit with.
const maxRecordPeers = 256

// confirmedPush is what one push's dump confirmed: the peers as sent, and
// the generation each one's creation made.
type confirmedPush struct {
	st     *nodeState
	nodeID int64
	peers  []*store.Peer
	gens   map[int64]int64 // peer id -> generation
}

// pushRecords holds the confirmed pushes waiting for the recorder.
type pushRecords struct {
	mu      sync.Mutex // guards waiting
	waiting []confirmedPush
	// wake holds a token while there may be something to record.
	wake chan struct{}
}

func newPushRecords() *pushRecords { return &pushRecords{wake: make(chan struct{}, 1)} }

// add queues c for the recorder; it never blocks.
func (q *pushRecords) add(c confirmedPush) {
	q.mu.Lock()
	q.waiting = append(q.waiting, c)
	q.mu.Unlock()
	select {
	case q.wake <- struct{}{}:
	default:
	}
}

// take returns the oldest waiting pushes, about maxRecordPeers peers of
// them (at least one push); none when nothing waits.
func (q *pushRecords) take() []confirmedPush {
	q.mu.Lock()
	defer q.mu.Unlock()
	n, peers := 0, 0
	for n < len(q.waiting) && (n == 0 || peers+len(q.waiting[n].peers) <= maxRecordPeers) {
		peers += len(q.waiting[n].peers)
		n++
	}
	batch := q.waiting[:n:n]
	q.waiting = q.waiting[n:]
	if len(q.waiting) == 0 {
		q.waiting = nil
	}
	return batch
}

// recordPushes is the recorder: it records confirmed pushes until ctx is
// done. Run records what is still waiting once the push workers have
// ended (drainPushRecords).
func (r *Reconciler) recordPushes(ctx context.Context) {
	for {
		if batch := r.pq.recs.take(); len(batch) > 0 {
			r.recordBatch(ctx, batch)
			continue
		}
		select {
		case <-ctx.Done():
			return
		case <-r.pq.recs.wake:
		}
	}
}

// drainPushRecords records every confirmed push still waiting.
func (r *Reconciler) drainPushRecords(ctx context.Context) {
	for batch := r.pq.recs.take(); len(batch) > 0; batch = r.pq.recs.take() {
		r.recordBatch(ctx, batch)
	}
}

// recordBatch records batch in one write transaction. The agents have
// what they have: it is recorded even when ctx has ended. If the
// transaction fails, each node of the batch is reconciled instead (as a
// push that could not record was before).
func (r *Reconciler) recordBatch(ctx context.Context, batch []confirmedPush) {
	ctx = context.WithoutCancel(ctx)
	err := r.store.InTx(ctx, func(tx *store.Tx) error {
		if r.fence != nil {
			if err := r.fence.Check(ctx, tx); err != nil {
				return err
			}
		}
		return recordPushed(ctx, tx, batch)
	})
	if err == nil {
		return
	}
	r.log.Debug("push: recording failed, reconciles follow", "pushes", len(batch), "err", err)
	for _, c := range batch {
		r.Trigger(c.nodeID)
	}
}
