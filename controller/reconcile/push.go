package reconcile

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"golang.zx2c4.com/wireguard/wgctrl/wgtypes"

	"github.com/wgfleet/wgfleet/agent/agentapi"
	"github.com/wgfleet/wgfleet/controller/store"
)

// DefaultPushWorkers is Config.PushWorkers' default. A push mostly waits
// for the agent's add and dump (its record is the recorder's,
// pushrecord.go); with 8 at a time, the pushes of a burst of creations
// over 200 nodes queued for seconds (docs/BENCHMARKS.md, controller-fleet).
const DefaultPushWorkers = 32

// Push asks for a peer just created to be put on its node's agent with
// one call (an add), instead of a reconcile of the whole node: gen is the
// node's desired generation the creation made. It never blocks; pushes
// for one node waiting for their turn are made together, and when they
// are BulkThreshold or more they go to a reconcile of the node instead,
// which sends them in one replace-all where it can. Like Trigger it
// waits for Run, and is dropped after Run returned.
//
// A push runs under the node's reconcile lock, so it never overlaps a
// reconcile of the node, and counts as done only when the agent's dump
// read after it shows the peer as desired: then the peer is marked
// applied, and the node's generation is acknowledged as far as every
// change since the last acknowledgement was such a confirmed creation.
// Anything else (the agent refused the peer, did not answer, or its dump
// does not show it) ends in a reconcile of the node (Trigger), which
// records and retries as reconciles do. A peer no longer pending, off the
// node, or on a disabled node is left to the reconciles. With a Fence
// (controller replicas), a Push while Run does not run (this replica does
// not lead) is dropped: the leader notices the node's generation move and
// reconciles it.
func (r *Reconciler) Push(nodeID, peerID, gen int64) {
	if r.fence != nil && !r.running.Load() {
		return
	}
	r.pq.push(nodeID, pushed{peerID, gen})
}

// pushed is one peer to push and the generation its creation made.
type pushed struct{ peer, gen int64 }

// PushResult says what one push did.
type PushResult struct {
	// Calls counts the requests made to the agent: the adds and the dump
	// read after them.
	Calls int
	// Confirmed counts the peers the dump showed as desired, handed to
	// the push recorder (pushrecord.go) to be marked applied.
	Confirmed int
	// Reconcile reports that the push did not settle everything it was
	// asked for, and a reconcile of the node should.
	Reconcile bool
}

// pushWork is one push worker: it runs pushes until ctx is done.
func (r *Reconciler) pushWork(ctx context.Context) {
	for {
		if ctx.Err() != nil {
			return
		}
		id, ps, ok := r.pq.pop()
		if !ok {
			select {
			case <-ctx.Done():
				return
			case <-r.pq.wake:
				continue
			}
		}
		if r.bulkThreshold > 0 && len(ps) >= r.bulkThreshold {
			// A batch this large goes in one call: the node's reconcile
			// reads the dump, compares and sends one replace-all (where
			// the agent takes one and the policy allows, else one call
			// per change), and records as reconciles do.
			r.pq.finish(id)
			r.Trigger(id)
			continue
		}
		res, confirmed, err := r.pushPeers(ctx, id, ps)
		if confirmed != nil {
			r.pq.recs.add(*confirmed) // recorded by recordPushes, not waited for
		}
		r.pq.finish(id)
		if err != nil && ctx.Err() == nil {
			r.log.Debug("push: a reconcile follows", "node_id", id, "peers", len(ps), "calls", res.Calls, "err", err)
		}
		if res.Reconcile && ctx.Err() == nil {
			r.Trigger(id)
		}
	}
}

// pushPeers pushes the peers ps of node nodeID (see Push) and returns
// those the dump read after the adds showed as desired, to be recorded
// (nil when none): the caller hands them to the push recorder, so that
// neither this node's next push nor the worker waits for that commit.
func (r *Reconciler) pushPeers(ctx context.Context, nodeID int64, ps []pushed) (PushResult, *confirmedPush, error) {
	var res PushResult
	st := r.state(nodeID)
	st.run.Lock()
	defer st.run.Unlock()

	var (
		node  store.Node
		peers []store.Peer
		gens  = make(map[int64]int64, len(ps)) // peer id -> generation
	)
	err := r.store.View(ctx, func(tx *store.Tx) error {
		var err error
		if node, err = tx.GetNodeAgent(ctx, nodeID); err != nil {
			return err
		}
		for _, pp := range ps {
			p, err := tx.GetPeer(ctx, pp.peer)
			if errors.Is(err, store.ErrPeerNotFound) {
				continue
			}
			if err != nil {
				return err
			}
			if p.NodeID == nodeID && p.Iface == node.WGInterface && p.OnNode() && p.SyncState == store.SyncPending {
				peers = append(peers, p)
				gens[p.ID] = pp.gen
			}
		}
		return nil
	})
	if errors.Is(err, store.ErrNodeNotFound) {
		return res, nil, nil // deleted, with its peers
	}
	if err != nil {
		res.Reconcile = true
		return res, nil, fmt.Errorf("pushing to node %d: reading peers: %w", nodeID, err)
	}
	if !node.Enabled || len(peers) == 0 {
		return res, nil, nil
	}
	client, err := r.clients.For(node)
	if err != nil {
		res.Reconcile = true
		return res, nil, fmt.Errorf("pushing to node %s: %w", node.Name, err)
	}

	c := comparison{}
	for i := range peers {
		p := &peers[i]
		want := desiredConf(p)
		c.items = append(c.items, &item{
			Drift: Drift{Kind: DriftMissing, PublicKey: p.PublicKey.String(), PeerID: p.ID, PeerName: p.Name,
				Pending: true, Desired: want.state()},
			key: p.PublicKey, peer: p, want: want,
		})
	}
	screen(&c, node.ServerPublicKey)
	if err := r.allow(ctx); err != nil {
		return res, nil, fmt.Errorf("pushing to node %s: %w", node.Name, err)
	}
	a := newApplier(client, node.WGInterface, node.Name)
	prev := st.confirmed.Load()
	st.confirmed.Store(nil) // the agent changes: carried over below, or gone
	a.single(ctx, plan{adds: c.items})
	st.lastWrite = time.Now() // a dump sent before this may not show the adds
	added := slices.Clone(a.out.uncertain)
	for _, it := range a.out.done {
		added = append(added, it.key)
	}
	st.manage(added...)
	res.Calls = a.out.calls
	if a.out.err != nil || len(a.out.refused) > 0 || len(a.out.done) == 0 {
		res.Reconcile = true
		return res, nil, a.out.err
	}

	// Observe, don't trust: what the agent shows after the adds decides.
	shown, calls, err := r.readPushed(ctx, client, node, a.out.done, st.showsPSK())
	res.Calls += calls
	if err != nil {
		res.Reconcile = true
		return res, nil, fmt.Errorf("pushing to node %s: reading peers after the adds: %w", node.Name, err)
	}
	shows := st.showsPSK()
	sent := make(map[string]bool, len(a.out.done))
	for _, it := range a.out.done {
		sent[it.key.String()] = true
	}
	for _, ap := range shown {
		if ap.PresharedKey != nil {
			shows = true
		}
	}
	got := make(map[wgtypes.Key]peerConf, len(a.out.done))
	for _, ap := range shown {
		if !sent[ap.PublicKey] {
			// Only the pushed peers are compared, found by their
			// keys' text: a key the agent wrote otherwise leaves its
			// peer unconfirmed, and a reconcile follows.
			continue
		}
		if s, ok := actualConf(ap, shows); ok {
			got[s.key] = s
		}
	}
	st.learnShowsPSK(shows)
	var confirmed []*store.Peer
	for _, it := range a.out.done {
		if g, ok := got[it.key]; ok && len(observableDiff(it.want, g, shows)) == 0 {
			confirmed = append(confirmed, it.peer)
		} else {
			res.Reconcile = true
		}
	}
	if len(confirmed) == 0 {
		return res, nil, nil
	}
	if prev != nil && !res.Reconcile && len(confirmed) == len(peers) && prev.iface == node.WGInterface &&
		prev.own == node.ServerPublicKey && prev.showsPSK == shows && prev.addPushed(a.out.done, gens) {
		st.confirmed.Store(prev) // carried over the push: see confirmation.extended
	}
	res.Confirmed = len(confirmed)
	return res, &confirmedPush{st: st, nodeID: nodeID, peers: confirmed, gens: gens}, nil
}

// recordPushed records batch inside tx: it marks the pushed peers
// applied, each only if its desired state is still the one that was sent
// (read for the whole batch at once, store.Tx.GetPeers, and marked with
// one statement, store.Tx.SetPeersApplied), and acknowledges each node's
// generation up to the highest one such that every generation above the
// acknowledged one is a confirmed creation.
func recordPushed(ctx context.Context, tx *store.Tx, batch []confirmedPush) error {
	var ids []int64
	for _, c := range batch {
		for _, p := range c.peers {
			ids = append(ids, p.ID)
		}
	}
	now, err := tx.GetPeers(ctx, ids)
	if err != nil {
		return err
	}
	byID := make(map[int64]*store.Peer, len(now))
	for i := range now {
		byID[now[i].ID] = &now[i]
	}
	var (
		applied []int64
		gens    = make([][]int64, len(batch)) // per push: the generations it confirmed
	)
	for i, c := range batch {
		for _, p := range c.peers {
			cur, ok := byID[p.ID]
			if !ok || !cur.OnNode() || cur.Iface != p.Iface || cur.SyncState != store.SyncPending || !sameDesired(desiredConf(cur), desiredConf(p)) {
				continue // deleted or changed since: a reconcile follows that change
			}
			applied = append(applied, p.ID)
			if g := c.gens[p.ID]; g > 0 {
				gens[i] = append(gens[i], g)
			}
		}
	}
	if err := tx.SetPeersApplied(ctx, applied); err != nil {
		return err
	}
	for i, c := range batch {
		desired, ackedNow, err := tx.NodeGenerations(ctx, c.nodeID)
		if errors.Is(err, store.ErrNodeNotFound) {
			continue // deleted since, with its peers
		}
		if err != nil {
			return err
		}
		if to := c.st.confirmGenerations(gens[i], ackedNow); to > ackedNow && to <= desired {
			if err := tx.SetAckedGeneration(ctx, c.nodeID, to); err != nil {
				return err
			}
		}
	}
	return nil
}

// confirmGenerations adds gens to the generations confirmed by pushes
// and returns the highest generation up to which every one above acked
// is confirmed (acked itself when the next is not), forgetting those at
// or below it.
func (st *nodeState) confirmGenerations(gens []int64, acked int64) int64 {
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.pushedGens == nil {
		st.pushedGens = make(map[int64]bool)
	}
	for _, g := range gens {
		if g > acked {
			st.pushedGens[g] = true
		}
	}
	to := acked
	for st.pushedGens[to+1] {
		to++
	}
	for g := range st.pushedGens {
		if g <= to {
			delete(st.pushedGens, g)
		}
	}
	return to
}

// maxPeerReads is how many peers a push reads one by one after its adds
// (GET /v1/wg/{iface}/peers/{key}); more are read with one dump.
const maxPeerReads = 2

// readPushed reads what node's agent shows of the peers done after a
// push's adds, and how many calls that took: each peer by itself when
// they are few, the agent serves the reads of the /v1 paths
// (agentapi.CapInterfaceInfo, as its last health answer said) and its
// dumps were not seen to show preshared keys (shows false: a read of one
// peer never shows one, and would then look like a difference);
// otherwise one dump of the whole interface. Either is the agent's device
// as it is now: a read of one peer reads the device as a dump does, and
// costs the controller and the agent one peer, where a dump costs the
// node's whole set on every creation.
func (r *Reconciler) readPushed(ctx context.Context, client *agentapi.Client, node store.Node, done []*item, shows bool) ([]agentapi.Peer, int, error) {
	if has, known := r.clients.HasCapability(node.ID, agentapi.CapInterfaceInfo); !has || !known || shows || len(done) > maxPeerReads {
		d, err := client.Dump(ctx, node.WGInterface)
		return d.Peers, 1, err
	}
	out := make([]agentapi.Peer, 0, len(done))
	calls := 0
	for _, it := range done {
		calls++
		p, err := client.Peer(ctx, node.WGInterface, it.key)
		if err != nil { // not found included: a reconcile follows
			return nil, calls, err
		}
		out = append(out, p)
	}
	return out, calls, nil
}
