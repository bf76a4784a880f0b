package reconcile

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/wgfleet/wgfleet/agent/agentapi"
	"github.com/wgfleet/wgfleet/controller/agentclient"
	"github.com/wgfleet/wgfleet/controller/events"
	"github.com/wgfleet/wgfleet/controller/store"
)

// Defaults of Config.
const (
	// DefaultWorkers: a reconcile mostly waits (for its agent, and for
	// the group commit that records it), and a poll cycle waits for the
	// reconciles it offered, one per node: with 4 at a time, a cycle of
	// a large fleet lasted as long as its reconciles in turns of 4.
	DefaultWorkers       = 32
	DefaultBulkThreshold = 8
)

// Config configures a Reconciler.
type Config struct {
	Store   *store.Store      // required
	Clients *agentclient.Pool // required; shared with the poller
	Logger  *slog.Logger      // nil discards
	Workers int               // background reconciles at once; 0 means DefaultWorkers
	// PushWorkers is how many pushes (Push) run at once, beside the
	// reconciles; 0 means DefaultPushWorkers.
	PushWorkers int
	Now         func() time.Time // clock for durations; nil means time.Now
	// BulkThreshold is the number of changes from which one replace-all
	// (agentapi.CapPeerSync) stands for the single-peer calls. An agent
	// with no peers at all gets a replace-all from two changes on. 0 means
	// DefaultBulkThreshold; a negative value never uses replace-all.
	BulkThreshold int
	// Events hears of new drift (events.NodeDrift, each time drift_count
	// grows); nil means nobody does.
	Events events.Publisher
	// Fence says whether this process may write to agents (with several
	// controller replicas, only the leader may); nil means it always may.
	Fence Fence
}

// Fence decides whether this process may write to the agents now.
// controller/leader implements it.
type Fence interface {
	// Allow returns nil when the process may write to agents now, and
	// why not otherwise. A reconcile asks it before it reads the node and
	// again before it writes.
	Allow(ctx context.Context) error
	// Check, inside the transaction that records a reconcile, fails when
	// the process lost the right to write since Allow: then nothing of
	// that reconcile is recorded.
	Check(ctx context.Context, tx *store.Tx) error
}

// Result says what one reconcile of one node found and did.
type Result struct {
	NodeID int64 `json:"node_id"`
	// Generation is the node's desired generation the reconcile worked
	// from, read before its desired peers.
	Generation int64 `json:"generation"`
	// Acked reports whether the agent now holds Generation and it was
	// recorded as acknowledged: every change went through.
	Acked bool `json:"acked"`
	// Calls counts the requests made to the agent, the read of its peers
	// included (a reconcile that uses an offered Observation does not
	// count that read).
	Calls int `json:"calls"`
	// Bulk reports whether one replace-all made the changes.
	Bulk bool `json:"bulk"`
	// Added, Updated and Removed count the changes the agent took.
	Added   int `json:"added"`
	Updated int `json:"updated"`
	Removed int `json:"removed"`
	// Unconfirmed counts changes the agent answered with success that the
	// dump read after them does not show; those peers carry sync state
	// "error" with the reason in words, and DriftAfter lists them.
	Unconfirmed int `json:"unconfirmed"`
	// DriftAfter is every difference the dump read after the changes
	// still shows (Drift.Reason says why one cannot be repaired on this
	// agent); the same as Drift when nothing was sent.
	DriftAfter []Drift `json:"drift_after"`
	// Refused counts changes the agent refused, or failed alone with a
	// 500; those peers now carry sync state "error" with the agent's
	// message.
	Refused int `json:"refused"`
	// Drift is every difference found before acting, pending ones
	// included; never nil for a reconcile that reached the agent.
	Drift []Drift `json:"drift"`
	// Repaired reports whether any change was applied to the agent.
	Repaired bool `json:"repaired"`
	// DriftCurrent counts the out-of-band differences (Drift entries that
	// are not Pending) the agent still has after this reconcile: those the
	// policy left alone, refused, or not reached because the agent stopped
	// answering. 0 after a successful repair. It is recorded as the node's
	// drift_current (store.Node.DriftCurrent).
	DriftCurrent int `json:"drift_current"`
	// Skipped says why nothing was done, such as "node disabled"; empty
	// when the reconcile ran.
	Skipped string `json:"skipped,omitempty"`
	// Unchanged reports that the reconcile compared by digest: the
	// offered dump was the one the last reconcile of the node found in
	// line, and the node's desired generation had not moved since, so the
	// node's peers were not read from the database and nothing was to do
	// (see confirmation). Drift and DriftAfter are empty then.
	Unchanged bool `json:"unchanged,omitempty"`
	// Pushing reports that the offered dump showed what was confirmed and
	// the peers pushed since, and that the node's desired peers differ
	// from it only by creations whose pushes are waiting or under way:
	// nothing was sent, nothing acknowledged, those peers are left to
	// their pushes (see reconcileUnchanged). Drift and DriftAfter are
	// empty then.
	Pushing bool `json:"pushing,omitempty"`
}

// Reconciler converges nodes' agents on the database. It is safe for
// concurrent use. Reconciles and pushes of one node are serialized
// (nodeState.run); different nodes run in parallel, in the background up
// to Workers reconciles and PushWorkers pushes.
type Reconciler struct {
	store         *store.Store
	clients       *agentclient.Pool
	log           *slog.Logger
	now           func() time.Time
	workers       int
	pushWorkers   int
	bulkThreshold int
	events        events.Publisher
	fence         Fence // nil: always allowed

	mu    sync.Mutex // guards nodes
	nodes map[int64]*nodeState

	q       *queue
	pq      *pushQueue
	running atomic.Bool // set while Run runs
}

// New returns a Reconciler. Background reconciles (Trigger, Offer) run in
// Run; ReconcileNode and the others work without it.
func New(cfg Config) *Reconciler {
	r := &Reconciler{
		store:         cfg.Store,
		clients:       cfg.Clients,
		log:           cfg.Logger,
		now:           cfg.Now,
		workers:       cfg.Workers,
		pushWorkers:   cfg.PushWorkers,
		bulkThreshold: cfg.BulkThreshold,
		events:        events.OrDiscard(cfg.Events),
		fence:         cfg.Fence,
		nodes:         make(map[int64]*nodeState),
		q:             newQueue(),
		pq:            newPushQueue(),
	}
	if r.log == nil {
		r.log = slog.New(slog.DiscardHandler)
	}
	if r.now == nil {
		r.now = time.Now
	}
	if r.workers <= 0 {
		r.workers = DefaultWorkers
	}
	if r.pushWorkers <= 0 {
		r.pushWorkers = DefaultPushWorkers
	}
	if r.bulkThreshold == 0 {
		r.bulkThreshold = DefaultBulkThreshold
	}
	return r
}

// ReconcileNode compares the node's desired peers with its agent's and
// acts under the node's drift policy. It fails with an error wrapping
// ErrUnreachable when the agent does not answer (whatever was applied
// before is recorded; the rest stays pending), wrapping
// store.ErrNodeNotFound for an unknown node, and with the agent's error
// when the agent fails as a whole (a 401 for a wrong secret, a 5xx). A
// disabled node is skipped without error.
func (r *Reconciler) ReconcileNode(ctx context.Context, nodeID int64) (Result, error) {
	return r.reconcile(ctx, nodeID, nil, false)
}

// Repair is ReconcileNode as if the node's policy were "repair": it
// applies every difference, out-of-band drift included. It is what an
// operator's "reconcile now" asks for on a node whose policy is "report".
func (r *Reconciler) Repair(ctx context.Context, nodeID int64) (Result, error) {
	return r.reconcile(ctx, nodeID, nil, true)
}

// Drift reads the node's agent and returns how it differs from the
// database, changing nothing: neither the agent nor the database, not
// even the node's drift_current and drift_count, which only reconciles
// record. It is a look, not a reconcile: it does not wait for one that is
// running, so recording what it saw could put an older picture over the
// newer one that reconcile records. The slice is empty, not nil, when
// there is no difference. A disabled node is ErrNodeDisabled.
func (r *Reconciler) Drift(ctx context.Context, nodeID int64) ([]Drift, error) {
	node, peers, err := r.snapshot(ctx, nodeID)
	if err != nil {
		return nil, err
	}
	if !node.Enabled {
		return nil, fmt.Errorf("drift of node %s: %w", node.Name, ErrNodeDisabled)
	}
	client, err := r.clients.For(node)
	if err != nil {
		return nil, fmt.Errorf("drift of node %s: %w", node.Name, err)
	}
	d, err := client.Dump(ctx, node.WGInterface)
	if err != nil {
		return nil, fmt.Errorf("drift of node %s: reading peers: %w", node.Name, agentclient.Classify(err))
	}
	st := r.state(nodeID)
	c := compare(node.WGInterface, peers, d.Peers, st.managedKeys(), st.showsPSK())
	screen(&c, node.ServerPublicKey)
	st.learnShowsPSK(c.showsPSK)
	st.explain(c)
	return c.drifts(), nil
}

// snapshot reads the node and its peers in one read-only transaction
// (one snapshot of the database), the node (and so its desired generation)
// first.
func (r *Reconciler) snapshot(ctx context.Context, nodeID int64) (store.Node, []store.Peer, error) {
	var (
		node  store.Node
		peers []store.Peer
	)
	err := r.store.View(ctx, func(tx *store.Tx) error {
		var err error
		if node, err = tx.GetNode(ctx, nodeID); err != nil {
			return err
		}
		peers, err = tx.ListPeers(ctx, nodeID)
		return err
	})
	if errors.Is(err, store.ErrNodeNotFound) {
		r.dropState(nodeID)
	}
	if err != nil {
		return store.Node{}, nil, fmt.Errorf("reading desired state: %w", err)
	}
	return node, peers, nil
}

// reconcile is one reconcile of one node; obs nil means "read the
// agent's peers", and so does an obs read before the node's last write.
func (r *Reconciler) reconcile(ctx context.Context, nodeID int64, obs *Observation, force bool) (Result, error) {
	st := r.state(nodeID)
	st.run.Lock()
	defer st.run.Unlock()
	if obs != nil && !obs.ReadAt.After(st.lastWrite) {
		obs = nil // may not show the last write: read again
	}
	var actual []agentapi.Peer
	if obs != nil && !obs.onlyDigest() {
		actual = obs.Peers
		if actual == nil {
			actual = []agentapi.Peer{}
		}
	}
	start := r.now()

	res := Result{NodeID: nodeID}
	if err := r.allow(ctx); err != nil {
		return res, fmt.Errorf("reconciling node %d: %w", nodeID, err)
	}
	if obs != nil {
		if res, done, err := r.reconcileUnchanged(ctx, st, nodeID, obs); done {
			return res, err
		}
		// An offer that kept only the digest (the node's dump was the
		// one confirmed, and the node moved since): actual is nil, and
		// the agent is read below.
	}
	st.confirmed.Store(nil) // until this reconcile ends in line
	node, peers, err := r.snapshot(ctx, nodeID)
	if err != nil {
		return res, fmt.Errorf("reconciling node %d: %w", nodeID, err)
	}
	res.Generation = node.DesiredGeneration
	if !node.Enabled {
		res.Skipped = "node disabled"
		return res, nil
	}
	fail := func(what string, err error) (Result, error) {
		return res, fmt.Errorf("reconciling node %s: %s: %w", node.Name, what, agentclient.Classify(err))
	}
	client, err := r.clients.For(node)
	if err != nil {
		return res, fmt.Errorf("reconciling node %s: %w", node.Name, err)
	}
	if actual == nil {
		if _, known := r.clients.HasCapability(nodeID, agentapi.CapPeerSync); !known {
			res.Calls++
			if _, err := r.clients.Health(ctx, node); err != nil {
				return fail("health", err)
			}
		}
		res.Calls++
		d, err := client.Dump(ctx, node.WGInterface)
		if err != nil {
			return fail("reading peers", err)
		}
		actual = d.Peers
	}

	policy := node.DriftPolicy
	if force {
		policy = store.DriftRepair
	}
	managed := st.managedKeys()
	cmp := compare(node.WGInterface, peers, actual, managed, st.showsPSK())
	screen(&cmp, node.ServerPublicKey)
	st.learnShowsPSK(cmp.showsPSK)
	st.explain(cmp)
	res.Drift = cmp.drifts()
	pl := makePlan(cmp, policy)

	a := newApplier(client, node.WGInterface, node.Name)
	final, verified := cmp, false
	if pl.actions() > 0 {
		if err := r.allow(ctx); err != nil {
			return res, fmt.Errorf("reconciling node %s: %w", node.Name, err)
		}
		sent := false
		if r.wantBulk(pl, cmp) {
			has, known := r.clients.HasCapability(nodeID, agentapi.CapPeerSync)
			if !known {
				res.Calls++
				if _, err := r.clients.Health(ctx, node); err != nil {
					return fail("health", err)
				}
				has, _ = r.clients.HasCapability(nodeID, agentapi.CapPeerSync)
			}
			if req, fits := bulkFits(cmp.desired, r.clients.MaxBodyBytes(nodeID)); has && fits {
				sent = a.sync(ctx, req, pl)
				if !sent {
					// An agent that advertised replace-all and refused
					// it may be another version now: ask again next time.
					r.clients.ForgetCapabilities(nodeID)
				}
			}
		}
		if !sent {
			a.single(ctx, pl)
		}
		// After the last answer: a read sent before this may not show
		// what was written.
		st.lastWrite = time.Now()
		if a.out.err == nil {
			// Observe, don't trust: what the agent holds now decides.
			v := &verifier{a: a, iface: node.WGInterface, peers: peers, managed: managed, st: st, own: node.ServerPublicKey}
			final, verified = v.check(ctx, cmp)
			if !verified {
				a.out.done = nil // nothing is confirmed
			}
			a.out.countDone()
			st.explain(final)
		}
	}
	out := &a.out
	res.Calls += out.calls
	res.Bulk = out.bulk
	res.Added, res.Updated, res.Removed = out.added, out.updated, out.removed
	res.Refused = len(out.refused)
	res.Unconfirmed = len(out.unconfirmed)
	res.Repaired = out.changed()
	ack := out.err == nil && len(out.refused) == 0 && len(out.unconfirmed) == 0
	res.DriftAfter = final.drifts()
	if verified {
		res.DriftAfter = afterDrifts(final, out)
	}

	current := remainingDrift(cmp, out)
	if verified {
		current = outOfBand(final)
	}

	// The agent has what it has: record it even when ctx ended meanwhile.
	if err := r.record(context.WithoutCancel(ctx), node, pl, out, ack, current); err != nil {
		return res, errors.Join(out.err, fmt.Errorf("reconciling node %s: recording: %w", node.Name, err))
	}
	res.Acked = ack
	res.DriftCurrent = current
	st.confirm(node, final, ack && len(res.DriftAfter) == 0)
	if verified {
		st.remember(final, &outcome{uncertain: out.uncertain})
	} else {
		st.remember(cmp, out)
	}
	r.report(ctx, node, policy, cmp, pl, st)
	r.logResult(node, res, pl, out, r.now().Sub(start))
	return res, out.err
}

// allow asks the fence, if any, whether this process may write to agents.
func (r *Reconciler) allow(ctx context.Context) error {
	if r.fence == nil {
		return nil
	}
	return r.fence.Allow(ctx)
}

// wantBulk reports whether the plan is large enough for a replace-all,
// and one may stand for it.
func (r *Reconciler) wantBulk(pl plan, cmp comparison) bool {
	if r.bulkThreshold < 0 || !pl.complete() || cmp.invalid > 0 {
		return false
	}
	n := pl.actions()
	return n >= r.bulkThreshold || (len(cmp.actualKeys) == 0 && n >= 2)
}

// logResult logs what a reconcile changed (info) and refused (warn).
func (r *Reconciler) logResult(node store.Node, res Result, pl plan, out *outcome, took time.Duration) {
	for _, rf := range out.refused {
		if rf.it.peer != nil && rf.it.peer.SyncState == store.SyncError && rf.it.peer.SyncError == rf.msg {
			continue // refused the same way before; said already
		}
		r.log.Warn("agent refused a peer", "node", node.Name, "node_id", node.ID,
			"peer", rf.it.PublicKey, "peer_id", rf.it.PeerID, "kind", string(rf.it.Kind), "error", rf.msg)
	}
	if !res.Repaired {
		return
	}
	r.log.Info("node reconciled", "node", node.Name, "node_id", node.ID, "generation", res.Generation,
		"acked", res.Acked, "added", res.Added, "updated", res.Updated, "removed", res.Removed,
		"refused", res.Refused, "bulk", res.Bulk, "calls", res.Calls, "took", took)
}
