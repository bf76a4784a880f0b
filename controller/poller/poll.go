package poller

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"golang.zx2c4.com/wireguard/wgctrl/wgtypes"

	"github.com/wgfleet/wgfleet/agent/agentapi"
	"github.com/wgfleet/wgfleet/controller/agentclient"
	"github.com/wgfleet/wgfleet/controller/events"
	"github.com/wgfleet/wgfleet/controller/reconcile"
	"github.com/wgfleet/wgfleet/controller/store"
)

// maxErrorLen bounds the error text stored in a node's last_error.
const maxErrorLen = 500

// outcome is what polling one node found.
type outcome struct {
	status store.NodeStatus // online, offline or error; "" when not polled
	// reconcile is the reconcile offered the peer list read; nil when
	// none was.
	reconcile *reconcile.Pending
	// statsUnchanged: the peer list's counters and handshakes were those
	// recorded last time, so the traffic was neither read nor written.
	statsUnchanged bool
	err            error
}

// PollOnce polls every enabled node that backoff does not hold back (at
// most Workers reading their agents at a time, and RecordFactor×Workers
// polls in all), hands each peer list read to the reconciler,
// waits for those reconciles, and returns what it saw. A node whose poll
// or reconcile is cut short by ctx is counted as neither online nor
// failed, or neither reconciled nor failed.
func (p *Poller) PollOnce(ctx context.Context) Summary {
	sum, pending := p.pollAll(ctx, 0)
	p.awaitReconciles(ctx, &sum, pending)
	return sum
}

// pollAll is the polling half of PollOnce: it polls the nodes and returns
// what it saw, and the reconciles it offered the peer lists to. With a
// spread, the i-th of the n nodes due is not started before i/n of it has
// passed, counted from the first of its group (pace.go); 0 starts each as
// soon as a worker is free.
func (p *Poller) pollAll(ctx context.Context, spread time.Duration) (Summary, []*reconcile.Pending) {
	var (
		sum     Summary
		pending []*reconcile.Pending
	)
	nodes, err := p.store.ListNodePolls(ctx)
	if err != nil {
		if ctx.Err() == nil {
			p.log.Error("poll: listing nodes", "err", err)
		}
		return sum, nil
	}
	begin, now := time.Now(), p.now()
	due := nodes[:0]
	for _, n := range nodes {
		if !n.Enabled {
			continue
		}
		sum.Nodes++
		var last time.Time
		if ns := p.state(n.ID).lastAttempt.Load(); ns != 0 {
			last = time.Unix(0, ns)
		}
		if !p.due(n.ConsecutiveFailures, last, now) {
			sum.Skipped++
			continue
		}
		due = append(due, n)
	}
	var (
		mu    sync.Mutex
		wg    sync.WaitGroup
		sem   = make(chan struct{}, RecordFactor*p.workers)
		timer = time.NewTimer(0)
		group = p.paceGroup()
	)
	timer.Stop()
	for i, n := range due {
		if !sleepUntil(ctx, timer, startAt(begin, spread, i, len(due), group)) {
			break
		}
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
		}
		if ctx.Err() != nil {
			break
		}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			out := p.pollNode(ctx, n.ID)
			mu.Lock()
			defer mu.Unlock()
			sum.add(out)
			if out.reconcile != nil {
				pending = append(pending, out.reconcile)
			}
		}()
	}
	wg.Wait()
	return sum, pending
}

// awaitReconciles is the second half of PollOnce: it waits for the
// reconciles pollAll offered and counts them in sum.
func (p *Poller) awaitReconciles(ctx context.Context, sum *Summary, pending []*reconcile.Pending) {
	for i, pr := range pending {
		res, err := pr.Wait(ctx)
		// Let the job go: held to the cycle's end, every node's took
		// 240 MB at 10,000 nodes x 100 peers (its result's drift lists
		// and the dump offered, which OfferBrief and the reconciler's
		// worker now drop as soon as the reconcile ends).
		pending[i] = nil
		switch {
		case ctx.Err() != nil:
		case err != nil:
			sum.ReconcileFailed++ // the reconciler logs why
		default:
			sum.Reconciled++
			if res.Unchanged {
				sum.Unchanged++
			}
		}
	}
}

func (s *Summary) add(o outcome) {
	switch o.status {
	case "":
		return
	case store.NodeOnline:
		s.Online++
		if o.statsUnchanged {
			s.StatsUnchanged++
		}
	case store.NodeOffline:
		s.Offline++
	default:
		s.Error++
	}
	s.Polled++
}

// PollNode polls one node now, backoff or not, as PollOnce does. It
// returns nil when the agent answered and its peers were read; otherwise
// an error wrapping reconcile.ErrUnreachable (status offline), the
// agent's error (status error), reconcile.ErrNodeDisabled or
// store.ErrNodeNotFound. The peers read are offered to the reconciler,
// whose reconcile PollNode does not wait for: the poll itself succeeded,
// and the reconciler logs a reconcile that fails.
func (p *Poller) PollNode(ctx context.Context, nodeID int64) error {
	return p.pollNode(ctx, nodeID).err
}

// pollNode polls one node: health, then the peer list, then stats, then
// it offers the peer list to the reconciler. Polls of one node are
// serialized.
func (p *Poller) pollNode(ctx context.Context, nodeID int64) outcome {
	st := p.state(nodeID)
	st.mu.Lock()
	defer st.mu.Unlock()

	// Read again under the lock: the status to compare with for the
	// transition log, and the URL and secret as they are now.
	node, err := p.store.GetNode(ctx, nodeID)
	if err != nil {
		if errors.Is(err, store.ErrNodeNotFound) {
			p.forget(nodeID)
		}
		return outcome{err: fmt.Errorf("polling node %d: %w", nodeID, err)}
	}
	if !node.Enabled {
		return outcome{err: fmt.Errorf("polling node %s: %w", node.Name, reconcile.ErrNodeDisabled)}
	}
	st.lastAttempt.Store(p.now().UnixNano())

	select {
	case p.reads <- struct{}{}:
	case <-ctx.Done():
		return outcome{err: fmt.Errorf("polling node %s: %w", node.Name, ctx.Err())}
	}
	pctx, cancel := context.WithTimeout(ctx, p.timeout)
	defer cancel()
	health, dump, readAt, err := p.read(pctx, node)
	<-p.reads
	if ctx.Err() != nil {
		return outcome{err: fmt.Errorf("polling node %s: %w", node.Name, ctx.Err())}
	}
	if err != nil {
		return p.failed(ctx, node, err)
	}

	// The health document as the agent gave it: it holds no secret.
	doc, err := json.Marshal(health)
	if err != nil {
		return outcome{err: fmt.Errorf("polling node %s: encoding health: %w", node.Name, err)}
	}
	key, _ := agentapi.InterfaceKey(health.Interfaces, node.WGInterface) // zero: not told
	if err := p.store.RecordNodeHealth(ctx, node.ID, store.NodeOnline, doc, key, "", true); err != nil {
		return outcome{err: fmt.Errorf("polling node %s: %w", node.Name, err)}
	}
	p.transition(ctx, node, store.NodeOnline, "", "")
	statsUnchanged, err := p.recordStats(ctx, st, node, dump.Peers)
	if err != nil {
		p.log.Error("poll: recording peer stats", "node", node.Name, "node_id", node.ID, "err", err)
	}
	if p.limits != nil {
		if err := p.limits.EnforceLimits(ctx, node.ID); err != nil && ctx.Err() == nil {
			p.log.Error("poll: applying expiry and data limits", "node", node.Name, "node_id", node.ID, "err", err)
		}
	}
	out := outcome{status: store.NodeOnline, statsUnchanged: statsUnchanged}
	if p.reconciler != nil {
		// Brief: the cycle holds every node's until it has waited for
		// all, and counts only whether each ran and compared by digest.
		out.reconcile = p.reconciler.OfferBrief(node.ID, reconcile.Observation{Peers: dump.Peers, ReadAt: readAt, Generation: node.DesiredGeneration})
	}
	return out
}

// read fetches the node's health and its interface's peers, and says
// when the peers' read was sent (time.Now, not the poller's clock: the
// reconciler orders it against its own writes).
func (p *Poller) read(ctx context.Context, node store.Node) (agentapi.Health, agentapi.Dump, time.Time, error) {
	health, err := p.clients.Health(ctx, node)
	if err != nil {
		return health, agentapi.Dump{}, time.Time{}, fmt.Errorf("health: %w", err)
	}
	client, err := p.clients.For(node)
	if err != nil {
		return health, agentapi.Dump{}, time.Time{}, err
	}
	readAt := time.Now()
	dump, err := client.Dump(ctx, node.WGInterface)
	p.notePaths(ctx, node, client)
	if err != nil {
		return health, dump, readAt, fmt.Errorf("reading peers of %s: %w", node.WGInterface, err)
	}
	return health, dump, readAt, nil
}

// notePaths records on the node where its agent serves the seed endpoints
// when the client found out something the node does not say yet.
func (p *Poller) notePaths(ctx context.Context, node store.Node, client *agentapi.Client) {
	found := string(client.Paths())
	if found == node.APIPaths {
		return
	}
	if err := p.store.SetNodeAPIPaths(ctx, node.ID, node.AgentURL, found); err != nil {
		p.log.Error("poll: recording api paths", "node", node.Name, "node_id", node.ID, "err", err)
		return
	}
	p.log.Info("agent path family found", "node", node.Name, "node_id", node.ID, "api_paths", found)
}

// failed records a failed poll: offline when the agent did not answer,
// error when it answered with an error (a wrong secret, a missing
// interface, a fault of its own).
func (p *Poller) failed(ctx context.Context, node store.Node, err error) outcome {
	status := store.NodeError
	if agentclient.Unreachable(err) {
		status = store.NodeOffline
	}
	err = agentclient.Classify(err)
	// A short sentence for the node's card, and the error chain as its
	// detail.
	sentence, detail := agentclient.Describe(node.AgentURL, err), err.Error()
	msg := store.NodeErrorText(sentence, detail)
	if len(msg) > maxErrorLen {
		msg = strings.ToValidUTF8(msg[:maxErrorLen], "")
	}
	out := outcome{status: status, err: fmt.Errorf("polling node %s: %w", node.Name, err)}
	if rerr := p.store.RecordNodeHealth(ctx, node.ID, status, nil, wgtypes.Key{}, msg, false); rerr != nil {
		out.err = errors.Join(out.err, fmt.Errorf("polling node %s: %w", node.Name, rerr))
	}
	p.transition(ctx, node, status, sentence, detail)
	return out
}

// transition logs a change of the node's status, once: info for online,
// warn for offline and error. It publishes events.NodeOffline when a node
// that was online (or not yet known) stops answering or answers with an
// error, and events.NodeOnline when one that was offline or in error
// answers again: one event per transition, since polls of a node are
// serialized and node.Status was read under the same lock. A move between
// offline and error is no event (the node stays down).
func (p *Poller) transition(ctx context.Context, node store.Node, status store.NodeStatus, msg, detail string) {
	if node.Status == status {
		return
	}
	attrs := []any{"node", node.Name, "node_id", node.ID, "from", string(node.Status), "to", string(status)}
	down := func(s store.NodeStatus) bool { return s == store.NodeOffline || s == store.NodeError }
	ev := events.Event{At: p.now().UTC(), Node: &events.Node{ID: node.ID, Name: node.Name, Status: string(status),
		PreviousStatus: string(node.Status), Error: detail}}
	if status == store.NodeOnline {
		p.log.Info("node online", attrs...)
		if down(node.Status) {
			ev.Type, ev.Message = events.NodeOnline, fmt.Sprintf("node %s is online again", node.Name)
			p.events.Publish(context.WithoutCancel(ctx), ev)
		}
		return
	}
	p.log.Warn("node "+string(status), append(attrs, "err", detail)...)
	if down(status) && !down(node.Status) {
		ev.Type, ev.Message = events.NodeOffline, fmt.Sprintf("node %s is %s: %s", node.Name, status, msg)
		p.events.Publish(context.WithoutCancel(ctx), ev)
	}
}

// recordStats writes each database peer's observed handshake and
// counters, matched by public key; peers whose observation did not change
// are not written. A dump whose counters and handshakes are the ones the
// last call recorded, at the same desired generation of the node (see
// recorded), is not even compared: nothing would change. st.mu is held. What their totals grew by is added to the traffic
// history in the same write transaction. A peer the dump does not show
// (restricted, or not applied yet) has its last observed counters
// forgotten: when it is put back, its counters start again from 0 and all
// they count is new traffic.
//
// The peers are first compared in a read-only transaction, so that a
// quiet node costs no write. When something changed, they are read again
// and written in one write transaction: a peer moved to another node
// since (and maybe recorded by that node's poll), or one deleted, is no
// longer among this node's and is left alone, and each delta is counted
// from the totals as that transaction found them, so nothing is counted
// twice.
func (p *Poller) recordStats(ctx context.Context, st *nodeState, node store.Node, peers []agentapi.Peer) (unchanged bool, err error) {
	now := recorded{gen: node.DesiredGeneration, iface: node.WGInterface, print: printStats(peers)}
	if st.stats != nil && *st.stats == now {
		return true, nil
	}
	st.stats = nil
	if err := p.writeStats(ctx, node, peers); err != nil {
		return false, err
	}
	st.stats = &now
	return false, nil
}

// writeStats is recordStats without the shortcut.
func (p *Poller) writeStats(ctx context.Context, node store.Node, peers []agentapi.Peer) error {
	seen := make(map[string]agentapi.Peer, len(peers))
	for _, ap := range peers {
		seen[ap.PublicKey] = ap
	}
	var changed bool
	err := p.store.ViewOne(ctx, func(tx *store.Tx) error { // every poll: one statement, no transaction
		rows, err := tx.ListPeerCounters(ctx, node.ID, node.WGInterface)
		changed = len(statChanges(rows, seen)) > 0
		return err
	})
	if err != nil || !changed {
		return err
	}
	return p.store.InTx(ctx, func(tx *store.Tx) error {
		rows, err := tx.ListPeerCounters(ctx, node.ID, node.WGInterface)
		if err != nil {
			return err
		}
		var traffic []store.TrafficDelta
		for _, c := range statChanges(rows, seen) {
			if c.forget {
				if err := tx.ForgetPeerCounters(ctx, c.peer.ID); err != nil {
					return err
				}
				continue
			}
			rxTotal, txTotal, err := tx.RecordPeerStats(ctx, c.peer.ID, c.hs, c.rx, c.tx)
			if err != nil {
				return err
			}
			traffic = append(traffic, store.TrafficDelta{PeerID: c.peer.ID, Rx: rxTotal - c.peer.RxTotal, Tx: txTotal - c.peer.TxTotal})
		}
		return tx.RecordTraffic(ctx, node.ID, p.now(), traffic)
	})
}

// statChange is what a poll writes for one database peer: its new
// observation, or forget its counters.
type statChange struct {
	peer   store.PeerCounters // as read
	forget bool
	hs     time.Time
	rx, tx int64
}

// statChanges compares the database's peers of a node with the agent's
// (seen, by public key) and returns what differs.
func statChanges(rows []store.PeerCounters, seen map[string]agentapi.Peer) []statChange {
	var out []statChange
	for _, dp := range rows {
		ap, ok := seen[dp.PublicKey.String()]
		if !ok {
			if dp.RxBytes != 0 || dp.TxBytes != 0 {
				out = append(out, statChange{peer: dp, forget: true})
			}
			continue
		}
		var hs time.Time
		if ap.LatestHandshake != nil && *ap.LatestHandshake > 0 {
			hs = time.Unix(*ap.LatestHandshake, 0)
		}
		rx, tx := max(ap.TransferRx, 0), max(ap.TransferTx, 0)
		if rx == dp.RxBytes && tx == dp.TxBytes && hs.Equal(dp.LastHandshake) {
			continue
		}
		out = append(out, statChange{peer: dp, hs: hs, rx: rx, tx: tx})
	}
	return out
}

// forget drops a deleted node's state.
func (p *Poller) forget(nodeID int64) {
	p.mu.Lock()
	delete(p.nodes, nodeID)
	p.mu.Unlock()
	p.clients.Forget(nodeID)
}
