package reconcile

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/wgfleet/wgfleet/agent/agentapi"
)

// Observation is a node's peer list as someone else read it (the poller's
// dump), and when.
type Observation struct {
	// Peers is the agent's peer list; nil is the same as empty.
	Peers []agentapi.Peer
	// ReadAt is when the read was sent, from time.Now: its monotonic
	// reading orders the read against the reconciler's own writes to the
	// node. A reconcile never compares with an Observation read before
	// its node's last write (the read may not show that write); it reads
	// the peers again instead.
	ReadAt time.Time
	// Generation is the node's desired generation as the caller read it
	// before the peers; 0 when not known. The offered peers wait for
	// their reconcile as a digest alone only when they are the dump
	// confirmed at this generation (see Reconciler.offer).
	Generation int64

	// digest, when not nil, is the digest of the peers offered (set by
	// offer); Peers is then nil if they were the dump the node's last
	// reconcile confirmed, which only the digest is kept of.
	digest *dumpDigest
}

// onlyDigest reports whether offer kept only the digest of the peers.
func (o *Observation) onlyDigest() bool { return o.Peers == nil && o.digest != nil }

// digestOf returns the digest of the peers, as offer computed it if it
// did.
func (o *Observation) digestOf() dumpDigest {
	if o.digest != nil {
		return *o.digest
	}
	return digestDump(o.Peers)
}

// Pending is a background reconcile asked for by Offer.
type Pending struct{ j *job }

// Wait waits for the reconcile and returns what ReconcileNode would have:
// its result and error (without Drift and DriftAfter for OfferBrief's,
// see there). It returns ErrStopped when the reconciler stopped
// before the reconcile ran, and ctx's error when ctx ends first (the
// reconcile still runs).
func (p *Pending) Wait(ctx context.Context) (Result, error) {
	select {
	case <-p.j.done:
		return p.j.res, p.j.err
	case <-ctx.Done():
		return Result{NodeID: p.j.id}, ctx.Err()
	}
}

// Trigger asks for a background reconcile of the node. It never blocks; a
// node is queued once however often it is triggered or offered before
// its turn. Triggers before Run wait for it; after Run returned they are
// dropped.
func (r *Reconciler) Trigger(nodeID int64) { r.q.push(nodeID, nil, false) }

// Offer hands the reconciler a peer list of the node read elsewhere (the
// poller's) and asks for a background reconcile that compares with it
// instead of reading the agent again, as Trigger does otherwise. The
// newest Observation offered before the node's turn is the one used, and
// one read before the reconciler's last write to the node is read again
// (see Observation.ReadAt). It never blocks.
func (r *Reconciler) Offer(nodeID int64, obs Observation) *Pending {
	return r.offer(nodeID, obs, true)
}

// OfferBrief is Offer for a caller that holds many Pendings at once and
// reads no more of a result than its counts and flags, as a poll cycle
// holds one for every node until it has waited for all: the Result its
// Pending's Wait returns has neither Drift nor DriftAfter (nil), so that
// a reconcile that ended does not keep its drift lists alive until its
// turn to be waited for comes (at 10,000 nodes x 100 peers, every node's
// lists of a million missing peers when they first arrive). The
// reconciler records and reports that drift itself (drift_current,
// drift_count, its log and events). When an Offer for the same node
// joins the same reconcile, every Pending of it gets the lists.
func (r *Reconciler) OfferBrief(nodeID int64, obs Observation) *Pending {
	return r.offer(nodeID, obs, false)
}

// offer is Offer (lists true) and OfferBrief. When the node's last
// reconcile found it in line (a confirmation), the peers' digest is taken
// now, and when it is the dump that reconcile confirmed, at the
// generation it confirmed (obs.Generation), the job keeps only the
// digest: a reconcile of an unchanged node needs no more
// (reconcileUnchanged), and one that finds the node moved meanwhile (a
// change in the database) reads the agent again. A job may wait long
// for a worker (while the million peers of 10,000 nodes first arrive,
// most of a cycle's jobs waited behind slow reconciles, each holding a
// dump of its node's peers); an unchanged dump waits as 32 bytes.
func (r *Reconciler) offer(nodeID int64, obs Observation, lists bool) *Pending {
	obs.digest = nil
	if obs.Peers == nil {
		obs.Peers = []agentapi.Peer{}
	}
	if c := r.state(nodeID).confirmed.Load(); c != nil {
		d := digestDump(obs.Peers)
		obs.digest = &d
		// A node whose generation moved since (peers created while its
		// agent was away) is compared in full: with these peers, not
		// with a read of the agent again.
		if d == c.dump && obs.Generation == c.gen {
			obs.Peers = nil
		}
	}
	return &Pending{r.q.push(nodeID, &obs, lists)}
}

// Run runs the background reconciles asked for by Trigger and Offer, up
// to Workers at once, and the pushes asked for by Push, up to PushWorkers
// at once, until ctx is done; a reconcile in progress then ends
// at its next call to the agent, recording what was applied. Run returns
// nil once its workers have exited; what was still waiting ends with
// ErrStopped, and so do Trigger and Offer until Run is called again (a
// controller replica that leads again). Run fails at once while another
// Run runs. ReconcileNode, Repair and Drift work without Run.
func (r *Reconciler) Run(ctx context.Context) error {
	if !r.running.CompareAndSwap(false, true) {
		return errors.New("reconciler: Run called while running")
	}
	defer r.running.Store(false)
	r.q.open()
	r.pq.open()
	var wg sync.WaitGroup
	for range r.workers {
		wg.Go(func() { r.work(ctx) })
	}
	for range r.pushWorkers {
		wg.Go(func() { r.pushWork(ctx) })
	}
	wg.Go(func() { r.recordPushes(ctx) })
	wg.Wait()
	r.drainPushRecords(ctx) // what the last pushes confirmed
	r.q.close()
	r.pq.close()
	return nil
}

// work is one background worker.
func (r *Reconciler) work(ctx context.Context) {
	for {
		if ctx.Err() != nil {
			return
		}
		j, ok := r.q.pop()
		if !ok {
			select {
			case <-ctx.Done():
				return
			case <-r.q.wake:
				continue
			}
		}
		// Only this worker holds a popped job (push joins only a job
		// that waits): the dump offered goes with the reconcile, not
		// with the job, which whoever waits for it may hold to the end
		// of a poll cycle (the peers of every node of the fleet).
		obs := j.obs
		j.obs = nil
		res, err := r.reconcile(ctx, j.id, obs, false)
		r.q.finish(j.id)
		j.end(res, err)
		switch {
		case err == nil, ctx.Err() != nil:
		case errors.Is(err, ErrUnreachable):
			// The poller reports the node offline; the peers stay
			// pending until the agent answers.
			r.log.Debug("background reconcile: agent unreachable", "node_id", j.id, "err", err)
		default:
			r.log.Warn("background reconcile failed", "node_id", j.id, "calls", res.Calls, "err", err)
		}
	}
}
