package reconcile

import (
	"io"
	"net/http"
	"strings"
	"testing"

	"golang.zx2c4.com/wireguard/wgctrl/wgtypes"

	"github.com/wgfleet/wgfleet/agent/agentapi"
	"github.com/wgfleet/wgfleet/agent/agenttest"
	"github.com/wgfleet/wgfleet/controller/store"
)

// TestBadPeerDoesNotStallNode is issue 10 item 2: an agent that lost its
// state comes back while the database holds, besides 12 good peers, one
// row no agent can take (a legacy row holding the restarted agent's own
// interface key, written past validation). The replace-all fails; the
// reconciler falls back to one call per peer, all 12 come back, and the
// bad one carries the agent's error. The agent's answer to the bad
// replace-all is taken as it is (a 400 from agents that check keys, a 500
// from older ones) and, to pin the older agents' case whatever the agent
// answers, replaced by a 500.
func TestBadPeerDoesNotStallNode(t *testing.T) {
	tests := []struct {
		name    string
		bulk500 bool
	}{
		{"the agent's own answer", false},
		{"replace-all answered 500", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, 0)
			a := agenttest.Start(t, agenttest.Options{})
			n := f.addNode("n1", a, store.DriftRepair)
			good := f.addPeers(n.ID, 12)
			f.reconcile(n.ID)
			f.assertConverged(a, n.ID)

			// Same address and secret, a fresh state dir: no peers, and
			// a new interface key.
			if err := a.Stop(); err != nil {
				t.Fatalf("stopping the agent: %v", err)
			}
			b := agenttest.Start(t, agenttest.Options{Addr: a.Addr, Secret: a.Secret})
			own := agentKey(t, b)
			bad, err := f.store.CreatePeerWithAllocation(f.ctx, store.Peer{NodeID: n.ID, Name: "legacy", PublicKey: own, Enabled: true})
			if err != nil {
				t.Fatalf("inserting the legacy row: %v", err)
			}
			if err := f.store.SetPeerSyncState(f.ctx, bad.ID, store.SyncApplied, ""); err != nil {
				t.Fatal(err)
			}
			if tt.bulk500 {
				f.rec.setAnswer(func(r *http.Request) *http.Response {
					if requestKind(r) != "sync" {
						return nil
					}
					return &http.Response{
						StatusCode: http.StatusInternalServerError, Request: r,
						Header: http.Header{"Content-Type": {"application/json"}},
						Body:   io.NopCloser(strings.NewReader(`{"error":"internal error"}`)),
					}
				})
			}

			f.rec.reset()
			res, err := f.r.ReconcileNode(f.ctx, n.ID)
			if err != nil {
				t.Fatalf("reconcile: %v", err)
			}
			if f.rec.count("PUT sync") != 1 {
				t.Errorf("%d replace-all calls, want 1 (12 missing on an empty agent)", f.rec.count("PUT sync"))
			}
			if res.Added != 12 || res.Refused != 1 || res.Acked {
				t.Errorf("result %+v, want 12 added, 1 refused, not acked", res)
			}
			dev := devicePeers(t, b)
			for _, p := range good {
				if _, on := dev[p.PublicKey]; !on {
					t.Errorf("peer %s did not come back", p.Name)
				}
			}
			if len(dev) != 12 {
				t.Errorf("agent has %d peers, want the 12 good ones", len(dev))
			}
			for _, p := range f.peers(n.ID) {
				switch {
				case p.ID == bad.ID:
					if p.SyncState != store.SyncError || p.SyncError == "" {
						t.Errorf("bad peer: sync state %s %q, want error with the agent's message", p.SyncState, p.SyncError)
					}
				case p.SyncState != store.SyncApplied:
					t.Errorf("peer %s: sync state %s %q, want applied", p.Name, p.SyncState, p.SyncError)
				}
			}

			// The next reconcile tries the bad peer alone and leaves the
			// others be.
			f.rec.setAnswer(nil)
			f.rec.reset()
			res, err = f.r.ReconcileNode(f.ctx, n.ID)
			if err != nil {
				t.Fatalf("second reconcile: %v", err)
			}
			if res.Refused != 1 || res.Added != 0 || f.rec.count("PUT sync") != 0 {
				t.Errorf("second reconcile %+v (%d replace-all), want the bad peer alone refused", res, f.rec.count("PUT sync"))
			}
			if got := len(devicePeers(t, b)); got != 12 {
				t.Errorf("agent has %d peers after the second reconcile, want 12", got)
			}
		})
	}
}

// agentKey is the public key of the test agent's interface, as its
// /health tells it.
func agentKey(t testing.TB, a *agenttest.Agent) wgtypes.Key {
	t.Helper()
	h, err := a.Client(t).Health(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	for _, i := range h.Interfaces {
		if i.Name == a.Iface {
			k, err := agentapi.ParseKey(i.PublicKey)
			if err != nil {
				t.Fatal(err)
			}
			return k
		}
	}
	t.Fatalf("agent's /health has no interface %s", a.Iface)
	return wgtypes.Key{}
}

// TestAgentFailingEveryChange: when every single call is answered 500, the
// agent is at fault, not the peers: the reconcile fails with the agent's
// error (and still marks each peer with it).
func TestAgentFailingEveryChange(t *testing.T) {
	f := newFixture(t, -1)
	a := agenttest.Start(t, agenttest.Options{})
	n := f.addNode("n1", a, store.DriftRepair)
	f.addPeers(n.ID, 3)
	f.rec.setAnswer(func(r *http.Request) *http.Response {
		if r.Method != http.MethodPost {
			return nil
		}
		return &http.Response{
			StatusCode: http.StatusInternalServerError, Request: r,
			Header: http.Header{"Content-Type": {"application/json"}},
			Body:   io.NopCloser(strings.NewReader(`{"error":"internal error"}`)),
		}
	})
	res, err := f.r.ReconcileNode(f.ctx, n.ID)
	if err == nil || !strings.Contains(err.Error(), "failed every change (3)") {
		t.Fatalf("reconcile: %v, want the agent failing every change", err)
	}
	if res.Refused != 3 || res.Acked {
		t.Fatalf("result: %d refused, acked %v; want 3 refused, not acked", res.Refused, res.Acked)
	}
	for _, p := range f.peers(n.ID) {
		if p.SyncState != store.SyncError || !strings.Contains(p.SyncError, "500") {
			t.Errorf("peer %s: sync state %s %q, want the agent's 500", p.Name, p.SyncState, p.SyncError)
		}
	}
}

// TestPeerHoldingNodeKeyIsReported: when the node's interface key, as its
// agent reported it, is a peer's key (a legacy row, or a node whose key
// changed), the reconciler does not send that peer: the peer carries the
// reason, the drift names it, and the other peers converge, by one
// replace-all that leaves it out.
func TestPeerHoldingNodeKeyIsReported(t *testing.T) {
	f := newFixture(t, 0)
	a := agenttest.Start(t, agenttest.Options{})
	n := f.addNode("n1", a, store.DriftRepair)
	f.addPeers(n.ID, 12)
	own := agentKey(t, a)
	if err := f.store.RecordNodeHealth(f.ctx, n.ID, store.NodeOnline, []byte(`{}`), own, "", true); err != nil {
		t.Fatal(err)
	}
	bad, err := f.store.CreatePeerWithAllocation(f.ctx, store.Peer{NodeID: n.ID, Name: "legacy", PublicKey: own, Enabled: true})
	if err != nil {
		t.Fatal(err)
	}

	res, err := f.r.ReconcileNode(f.ctx, n.ID)
	if err != nil {
		t.Fatalf("reconcile: %v", err)
	}
	if !res.Bulk || res.Added != 12 || res.Refused != 1 || res.Acked {
		t.Errorf("result: bulk %v, %d added, %d refused, acked %v; want one replace-all of 12, 1 refused, not acked",
			res.Bulk, res.Added, res.Refused, res.Acked)
	}
	if n := f.rec.count("POST peers") + f.rec.count("PUT peer"); n != 0 {
		t.Errorf("%d single calls, want none (the bad peer is not sent)", n)
	}
	if got := len(devicePeers(t, a)); got != 12 {
		t.Errorf("agent has %d peers, want 12", got)
	}
	got, err := f.store.GetPeer(f.ctx, bad.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.SyncState != store.SyncError || !strings.Contains(got.SyncError, "node's own interface key") {
		t.Errorf("bad peer: %s %q, want an error naming the node's own key", got.SyncState, got.SyncError)
	}
	drift, err := f.r.Drift(f.ctx, n.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(drift) != 1 || drift[0].PeerID != bad.ID || !strings.Contains(drift[0].Problem, "node's own interface key") {
		t.Errorf("drift %+v, want the bad peer alone with its problem", drift)
	}
}
