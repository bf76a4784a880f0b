package reconcile

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"golang.zx2c4.com/wireguard/wgctrl/wgtypes"

	"github.com/wgfleet/wgfleet/agent/agentapi"
	"github.com/wgfleet/wgfleet/agent/agenttest"
	"github.com/wgfleet/wgfleet/controller/store"
)

func TestPeersCreatedWhileAgentDownAreApplied(t *testing.T) {
	f := newFixture(t, 0)
	a := agenttest.Start(t, agenttest.Options{})
	n := f.addNode("n1", a, store.DriftRepair)
	if err := a.Stop(); err != nil {
		t.Fatalf("stopping the agent: %v", err)
	}

	f.addPeers(n.ID, 5)
	res, err := f.r.ReconcileNode(f.ctx, n.ID)
	if !errors.Is(err, ErrUnreachable) {
		t.Fatalf("reconcile with the agent down: %v, want ErrUnreachable", err)
	}
	if res.Repaired || res.Acked {
		t.Fatalf("result claims progress: %+v", res)
	}
	for _, p := range f.peers(n.ID) {
		if p.SyncState != store.SyncPending {
			t.Fatalf("peer %s: %s, want pending", p.Name, p.SyncState)
		}
	}
	if got := f.node(n.ID).AckedGeneration; got != 0 {
		t.Fatalf("acked %d with the agent down", got)
	}

	b := agenttest.Start(t, agenttest.Options{Addr: a.Addr, StateDir: a.StateDir, Secret: a.Secret})
	res = f.reconcile(n.ID)
	if !res.Acked || res.Added != 5 || !res.Repaired {
		t.Fatalf("after restart: %+v", res)
	}
	f.assertConverged(b, n.ID)
	f.assertNoSecrets()

	// Converged: the next reconcile reads and does nothing else.
	res = f.reconcile(n.ID)
	if res.Calls != 1 || res.Repaired || len(res.Drift) != 0 {
		t.Fatalf("second reconcile: %+v", res)
	}
}

func TestAgentRestartedEmptyConverges(t *testing.T) {
	f := newFixture(t, 0)
	a := agenttest.Start(t, agenttest.Options{})
	n := f.addNode("n1", a, store.DriftRepair)
	f.addPeers(n.ID, 20)
	f.reconcile(n.ID)
	f.assertConverged(a, n.ID)

	// Same address and secret, a fresh state dir: the agent comes back
	// with no peers at all.
	if err := a.Stop(); err != nil {
		t.Fatalf("stopping the agent: %v", err)
	}
	b := agenttest.Start(t, agenttest.Options{Addr: a.Addr, Secret: a.Secret})
	if got := len(devicePeers(t, b)); got != 0 {
		t.Fatalf("new agent has %d peers", got)
	}
	readAt := time.Now()
	d, err := b.Client(t).Dump(f.ctx, b.Iface)
	if err != nil {
		t.Fatal(err)
	}
	res, err := f.offer(n.ID, d.Peers, readAt)
	if err != nil {
		t.Fatal(err)
	}
	// 20 missing peers on an empty agent: one replace-all, no read before
	// it (the caller's dump was used), one read after it.
	if !res.Bulk || res.Calls != 2 || res.Added != 20 {
		t.Fatalf("result %+v, want one bulk call adding 20 and the read after it", res)
	}
	for _, d := range res.Drift {
		if d.Kind != DriftMissing || d.Pending {
			t.Fatalf("drift %+v, want out-of-band missing", d)
		}
	}
	f.assertConverged(b, n.ID)
	if got := f.node(n.ID).DriftCount; got != 1 {
		t.Fatalf("drift count %d, want 1", got)
	}
}

func TestOutOfBandDrift(t *testing.T) {
	tests := []struct {
		policy   store.DriftPolicy
		repaired bool
	}{
		{store.DriftRepair, true},
		{store.DriftReport, false},
	}
	for _, tt := range tests {
		t.Run(string(tt.policy), func(t *testing.T) {
			f := newFixture(t, 0)
			a := agenttest.Start(t, agenttest.Options{})
			n := f.addNode("n1", a, tt.policy)
			peers := f.addPeers(n.ID, 6)
			f.reconcile(n.ID)
			f.assertConverged(a, n.ID)

			// Behind the controller's back: a stranger, a removed peer,
			// a changed keepalive.
			c := a.Client(t)
			stranger := newKey(t).PublicKey()
			agentAdd(t, a, stranger, "10.200.0.9/32")
			if err := c.DeletePeer(f.ctx, a.Iface, peers[1].PublicKey); err != nil {
				t.Fatal(err)
			}
			ka := 7
			if err := c.UpdatePeer(f.ctx, a.Iface, peers[2].PublicKey, agentapi.UpdatePeerRequest{PersistentKeepalive: &ka}); err != nil {
				t.Fatal(err)
			}

			drift, err := f.r.Drift(f.ctx, n.ID)
			if err != nil {
				t.Fatal(err)
			}
			want := map[DriftKind]string{
				DriftMissing:   peers[1].PublicKey.String(),
				DriftUnknown:   stranger.String(),
				DriftDifferent: peers[2].PublicKey.String(),
			}
			if len(drift) != 3 {
				t.Fatalf("drift %+v, want 3 entries", drift)
			}
			for _, d := range drift {
				if want[d.Kind] != d.PublicKey || d.Pending {
					t.Errorf("unexpected drift %+v", d)
				}
				if d.Kind == DriftDifferent && (len(d.Fields) != 1 || d.Fields[0] != FieldKeepalive || d.Actual.Keepalive != 7) {
					t.Errorf("different: %+v actual %+v", d, d.Actual)
				}
			}
			before := len(devicePeers(t, a))

			res := f.reconcile(n.ID)
			if len(res.Drift) != 3 || res.Repaired != tt.repaired {
				t.Fatalf("result %+v", res)
			}
			if got := f.node(n.ID).DriftCount; got != 1 {
				t.Fatalf("drift count %d, want 1", got)
			}
			if !strings.Contains(f.logs.String(), "node drift") {
				t.Fatal("drift not logged")
			}
			if tt.repaired {
				f.assertConverged(a, n.ID)
				return
			}
			// report: nothing touched, and the same drift is not counted
			// twice.
			if got := len(devicePeers(t, a)); got != before {
				t.Fatalf("report policy changed the agent: %d peers, had %d", got, before)
			}
			res = f.reconcile(n.ID)
			if res.Calls != 1 || res.Repaired || f.node(n.ID).DriftCount != 1 {
				t.Fatalf("second report: %+v, drift count %d", res, f.node(n.ID).DriftCount)
			}

			// Changes the controller makes still go through under
			// report: a new peer, a deleted one, a restricted one. The
			// stranger and the out-of-band changes stay.
			added := f.addPeers(n.ID, 1)[0]
			if _, err := f.store.DeletePeer(f.ctx, peers[3].ID); err != nil {
				t.Fatal(err)
			}
			if err := f.store.SetPeerEnabled(f.ctx, peers[4].ID, false); err != nil {
				t.Fatal(err)
			}
			res = f.reconcile(n.ID)
			if res.Added != 1 || res.Removed != 2 || !res.Acked {
				t.Fatalf("controller changes under report: %+v", res)
			}
			dev := devicePeers(t, a)
			for _, c := range []struct {
				key  wgtypes.Key
				want bool
			}{
				{added.PublicKey, true}, {peers[3].PublicKey, false}, {peers[4].PublicKey, false},
				{stranger, true}, {peers[1].PublicKey, false},
			} {
				if _, on := dev[c.key]; on != c.want {
					t.Errorf("peer %s on agent = %v, want %v", c.key, on, c.want)
				}
			}
			if dev[peers[2].PublicKey].PersistentKeepaliveInterval != 7*time.Second {
				t.Error("report policy overwrote an out-of-band change")
			}

			// Repair on demand fixes the rest.
			res, err = f.r.Repair(f.ctx, n.ID)
			if err != nil || !res.Repaired {
				t.Fatalf("repair: %+v %v", res, err)
			}
			f.assertConverged(a, n.ID)
		})
	}
}

func TestRestrictedPeerOffTheAgent(t *testing.T) {
	f := newFixture(t, 0)
	a := agenttest.Start(t, agenttest.Options{})
	n := f.addNode("n1", a, store.DriftRepair)
	peers := f.addPeers(n.ID, 3)
	f.reconcile(n.ID)

	if err := f.store.SetPeerEnabled(f.ctx, peers[0].ID, false); err != nil {
		t.Fatal(err)
	}
	drift, err := f.r.Drift(f.ctx, n.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(drift) != 1 || drift[0].Kind != DriftUnknown || drift[0].PeerID != peers[0].ID || !drift[0].Pending {
		t.Fatalf("drift %+v, want the restricted peer as pending unknown", drift)
	}
	res := f.reconcile(n.ID)
	if res.Removed != 1 || res.Calls != 3 {
		t.Fatalf("result %+v, want one removal in 3 calls (read, remove, read)", res)
	}
	f.assertConverged(a, n.ID)
	if _, err := f.store.GetPeer(f.ctx, peers[0].ID); err != nil {
		t.Fatalf("restricted peer gone from the database: %v", err)
	}

	// Restricted while the agent already lacks it: settled without a call.
	a.Client(t).DeletePeer(f.ctx, a.Iface, peers[1].PublicKey)
	if err := f.store.SetPeerEnabled(f.ctx, peers[1].ID, false); err != nil {
		t.Fatal(err)
	}
	res = f.reconcile(n.ID)
	if res.Calls != 1 || !res.Acked {
		t.Fatalf("result %+v", res)
	}
	f.assertConverged(a, n.ID)

	// Allowed again: back on the agent.
	if err := f.store.SetPeerEnabled(f.ctx, peers[0].ID, true); err != nil {
		t.Fatal(err)
	}
	if res := f.reconcile(n.ID); res.Added != 1 {
		t.Fatalf("result %+v", res)
	}
	f.assertConverged(a, n.ID)
}

func TestPresharedKeyChangeIsPushed(t *testing.T) {
	f := newFixture(t, 0)
	a := agenttest.Start(t, agenttest.Options{})
	n := f.addNode("n1", a, store.DriftReport)
	p := f.addPeers(n.ID, 2)[1] // no preshared key
	f.reconcile(n.ID)

	psk := newKey(t)
	p.PresharedKey = &psk
	if _, err := f.store.UpdatePeer(f.ctx, p); err != nil {
		t.Fatal(err)
	}
	drift, err := f.r.Drift(f.ctx, n.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(drift) != 1 || drift[0].Kind != DriftDifferent || !drift[0].Pending ||
		len(drift[0].Fields) != 1 || drift[0].Fields[0] != FieldPresharedKey || !drift[0].Desired.HasPresharedKey {
		t.Fatalf("drift %+v", drift)
	}
	res := f.reconcile(n.ID)
	if res.Updated != 1 || !res.Acked {
		t.Fatalf("result %+v", res)
	}
	f.assertConverged(a, n.ID)
	if strings.Contains(f.logs.String(), psk.String()) {
		t.Fatal("preshared key logged")
	}
}

func TestCallStrategy(t *testing.T) {
	tests := []struct {
		name      string
		threshold int
		existing  int // converged before
		added     int // new in the database
		wantBulk  bool
	}{
		{"few changes go one by one", 8, 10, 3, false},
		{"many changes in one replace-all", 8, 10, 8, true},
		{"empty agent gets one replace-all", 8, 0, 2, true},
		{"single change on empty agent", 8, 0, 1, false},
		{"replace-all disabled", -1, 0, 12, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, tt.threshold)
			a := agenttest.Start(t, agenttest.Options{})
			n := f.addNode("n1", a, store.DriftRepair)
			f.addPeers(n.ID, tt.existing)
			f.reconcile(n.ID) // also learns the capabilities
			f.addPeers(n.ID, tt.added)
			f.rec.reset()

			res := f.reconcile(n.ID)
			want := 2 + tt.added // the read, one call per peer, the read after
			if tt.wantBulk {
				want = 3
			}
			if res.Bulk != tt.wantBulk || res.Calls != want || res.Added != tt.added {
				t.Fatalf("result %+v, want bulk=%v calls=%d", res, tt.wantBulk, want)
			}
			if got := f.rec.total(); got != want {
				t.Fatalf("agent saw %d requests, result says %d", got, res.Calls)
			}
			if tt.wantBulk && f.rec.count("PUT sync") != 1 {
				t.Fatalf("no replace-all sent: %v", f.rec.counts)
			}
			f.assertConverged(a, n.ID)
		})
	}
}

func TestRefusedPeerIsRecorded(t *testing.T) {
	f := newFixture(t, 0)
	a := agenttest.Start(t, agenttest.Options{})
	n := f.addNode("n1", a, store.DriftReport)
	// A stranger on the agent holds the address of a new peer; under
	// report it stays, so the agent refuses the overlap.
	p := f.addPeers(n.ID, 1)[0]
	agentAdd(t, a, newKey(t).PublicKey(), p.Address4.String()+"/32")
	f.addPeers(n.ID, 1)

	res, err := f.r.ReconcileNode(f.ctx, n.ID)
	if err != nil {
		t.Fatal(err)
	}
	if res.Refused != 1 || res.Added != 1 || res.Acked {
		t.Fatalf("result %+v", res)
	}
	got, _ := f.store.GetPeer(f.ctx, p.ID)
	if got.SyncState != store.SyncError || !strings.Contains(got.SyncError, "overlap") {
		t.Fatalf("refused peer: %s %q", got.SyncState, got.SyncError)
	}
	if nd := f.node(n.ID); nd.AckedGeneration == nd.DesiredGeneration {
		t.Fatal("generation acked with a refused peer")
	}
	if c := strings.Count(f.logs.String(), "agent refused a peer"); c != 1 {
		t.Fatalf("refusal logged %d times", c)
	}
	// The same refusal again is not logged again.
	f.reconcile(n.ID)
	if c := strings.Count(f.logs.String(), "agent refused a peer"); c != 1 {
		t.Fatalf("refusal logged %d times after a retry", c)
	}

	// Once the stranger is gone, the peer goes through.
	if _, err := f.r.Repair(f.ctx, n.ID); err != nil {
		t.Fatal(err)
	}
	f.assertConverged(a, n.ID)
}

func TestAgentKilledMidBatch(t *testing.T) {
	tests := []struct {
		name      string
		threshold int
		kill      func(r *http.Request) bool // which request kills the agent
		lost      bool                       // the agent applies it, the answer is lost
	}{
		{"single calls, answer lost", -1, nthRequest(http.MethodPost, 40), true},
		{"single calls, not sent", -1, nthRequest(http.MethodPost, 40), false},
		{"replace-all, answer lost", 8, nthRequest(http.MethodPut, 1), true},
		{"replace-all, not sent", 8, nthRequest(http.MethodPut, 1), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, tt.threshold)
			a := agenttest.Start(t, agenttest.Options{})
			n := f.addNode("n1", a, store.DriftRepair)
			f.addPeers(n.ID, 4)
			f.reconcile(n.ID)
			f.addPeers(n.ID, 150)

			killed := errors.New("agent killed")
			stopped := make(chan error, 1) // what Serve returned; the hook may run off the test goroutine
			hook := func(r *http.Request) error {
				if tt.kill(r) {
					select {
					case stopped <- a.Stop():
					default:
					}
					return killed
				}
				return nil
			}
			if tt.lost {
				f.rec.setHooks(nil, hook)
			} else {
				f.rec.setHooks(hook, nil)
			}
			res, err := f.r.ReconcileNode(f.ctx, n.ID)
			select {
			case err := <-stopped:
				if err != nil {
					t.Fatalf("stopping the agent: %v", err)
				}
			default:
				t.Fatal("test broken: no request killed the agent")
			}
			if !errors.Is(err, ErrUnreachable) {
				t.Fatalf("reconcile: %v, want ErrUnreachable", err)
			}
			if res.Acked {
				t.Fatal("acked a broken batch")
			}
			applied := 0
			for _, p := range f.peers(n.ID) {
				if p.SyncState == store.SyncApplied {
					applied++
				}
			}
			if tt.threshold < 0 && applied != 4+39 {
				t.Fatalf("%d applied, want the 4 old and the 39 answered", applied)
			}
			if tt.threshold > 0 && applied != 4 {
				t.Fatalf("%d applied after a failed replace-all, want the 4 old", applied)
			}
			f.rec.setHooks(nil, nil)

			// Still down: nothing changes, nothing is lost.
			if _, err := f.r.ReconcileNode(f.ctx, n.ID); !errors.Is(err, ErrUnreachable) {
				t.Fatalf("reconcile with the agent down: %v", err)
			}
			b := agenttest.Start(t, agenttest.Options{Addr: a.Addr, StateDir: a.StateDir, Secret: a.Secret})
			res = f.reconcile(n.ID)
			if !res.Acked {
				t.Fatalf("after restart: %+v", res)
			}
			f.assertConverged(b, n.ID)
			if ps := f.peers(n.ID); len(ps) != 154 {
				t.Fatalf("%d peers in the database, want 154", len(ps))
			}
		})
	}
}

// nthRequest matches the n-th request with the given method to a peers
// endpoint.
func nthRequest(method string, n int) func(*http.Request) bool {
	seen := 0
	return func(r *http.Request) bool {
		if r.Method != method || requestKind(r) == "health" || requestKind(r) == "dump" {
			return false
		}
		seen++
		return seen == n
	}
}

func TestDisabledNodeIsSkipped(t *testing.T) {
	f := newFixture(t, 0)
	a := agenttest.Start(t, agenttest.Options{})
	n := f.addNode("n1", a, store.DriftRepair)
	f.addPeers(n.ID, 2)
	if err := f.store.SetNodeEnabled(f.ctx, n.ID, false); err != nil {
		t.Fatal(err)
	}
	res, err := f.r.ReconcileNode(f.ctx, n.ID)
	if err != nil || res.Skipped != "node disabled" || res.Calls != 0 {
		t.Fatalf("result %+v, err %v", res, err)
	}
	if _, err := f.r.Drift(f.ctx, n.ID); !errors.Is(err, ErrNodeDisabled) {
		t.Fatalf("drift of a disabled node: %v", err)
	}
	if f.rec.total() != 0 {
		t.Fatal("a disabled node's agent was called")
	}
	if _, err := f.r.ReconcileNode(f.ctx, 999); !errors.Is(err, store.ErrNodeNotFound) {
		t.Fatalf("unknown node: %v", err)
	}
}

func TestWrongSecretIsNotUnreachable(t *testing.T) {
	f := newFixture(t, 0)
	a := agenttest.Start(t, agenttest.Options{})
	n := f.addNode("n1", a, store.DriftRepair)
	n.Secret = []byte("not-the-secret")
	if _, err := f.store.UpdateNode(f.ctx, n); err != nil {
		t.Fatal(err)
	}
	f.addPeers(n.ID, 1)
	_, err := f.r.ReconcileNode(f.ctx, n.ID)
	if err == nil || errors.Is(err, ErrUnreachable) || !errors.Is(err, agentapi.ErrUnauthorized) {
		t.Fatalf("reconcile with a wrong secret: %v", err)
	}
	if strings.Contains(err.Error(), "not-the-secret") {
		t.Fatal("error carries the secret")
	}
}

func TestStaleActualIsReadAgain(t *testing.T) {
	f := newFixture(t, 0)
	a := agenttest.Start(t, agenttest.Options{})
	n := f.addNode("n1", a, store.DriftRepair)
	f.addPeers(n.ID, 2)

	// The caller's read is sent, then a reconcile of the node writes
	// before the read is offered: the read may predate that reconcile's
	// changes.
	readAt := time.Now()
	if res := f.reconcile(n.ID); !res.Repaired {
		t.Fatalf("test broken: the reconcile wrote nothing: %+v", res)
	}
	res, err := f.offer(n.ID, []agentapi.Peer{}, readAt)
	if err != nil {
		t.Fatal(err)
	}
	// The empty actual was dropped and read again: nothing to add.
	if res.Calls != 1 || res.Added != 0 || len(res.Drift) != 0 {
		t.Fatalf("result %+v", res)
	}
	if nd := f.node(n.ID); nd.DriftCount != 0 {
		t.Fatalf("drift count %d after a stale read, want 0", nd.DriftCount)
	}

	// A read sent after the last write is used as is.
	res, err = f.offer(n.ID, []agentapi.Peer{}, time.Now())
	if err != nil || res.Calls != 2 || !res.Bulk || res.Added != 0 {
		t.Fatalf("result %+v, err %v: want the empty actual trusted, one replace-all and the read after it", res, err)
	}
}

func TestChangeDuringReconcileStaysPending(t *testing.T) {
	f := newFixture(t, -1)
	a := agenttest.Start(t, agenttest.Options{})
	n := f.addNode("n1", a, store.DriftRepair)
	f.reconcile(n.ID)
	p := f.addPeers(n.ID, 1)[0]

	// While the add is on its way, the peer gets a new preshared key.
	psk := newKey(t)
	f.rec.setHooks(nil, func(r *http.Request) error {
		if r.Method != http.MethodPost {
			return nil
		}
		f.rec.setHooks(nil, nil)
		p.PresharedKey = &psk
		_, err := f.store.UpdatePeer(context.Background(), p)
		return err
	})
	res := f.reconcile(n.ID)
	if res.Added != 1 || !res.Acked {
		t.Fatalf("result %+v", res)
	}
	got, _ := f.store.GetPeer(f.ctx, p.ID)
	nd := f.node(n.ID)
	if got.SyncState != store.SyncPending || nd.AckedGeneration != res.Generation || nd.DesiredGeneration <= res.Generation {
		t.Fatalf("peer %s, acked %d of desired %d (reconciled %d): the later change was taken as applied",
			got.SyncState, nd.AckedGeneration, nd.DesiredGeneration, res.Generation)
	}
	if dev := devicePeers(t, a); dev[p.PublicKey].PresharedKey == psk {
		t.Fatal("test broken: the new key reached the agent already")
	}
	// The next reconcile sends it.
	f.reconcile(n.ID)
	f.assertConverged(a, n.ID)
}
