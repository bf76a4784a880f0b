package poller

import (
	"bytes"
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wgfleet/wgfleet/agent/agenttest"
	"github.com/wgfleet/wgfleet/controller/agentclient"
	"github.com/wgfleet/wgfleet/controller/store"
)

// holdDump is a transport that, once armed, lets the next dump reach the
// agent and come back, then holds the answer until hook returns.
// It counts the dumps.
type holdDump struct {
	hook  atomic.Pointer[func()]
	dumps atomic.Int64
}

func (h *holdDump) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := http.DefaultTransport.RoundTrip(req)
	if err != nil || req.Method != http.MethodGet || !strings.HasSuffix(req.URL.Path, "/dump") {
		return resp, err
	}
	h.dumps.Add(1)
	hook := h.hook.Swap(nil)
	if hook == nil {
		return resp, nil
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		return nil, err
	}
	resp.Body = io.NopCloser(bytes.NewReader(body))
	(*hook)()
	return resp, nil
}

// TestStaleDumpCountsNoDrift is issue 14: a peer is created and its
// reconcile puts it on the agent while a poll's dump, read before, is on
// its way back. That dump lacks the peer the controller now has confirmed;
// taken as the agent's state it would count the peer as out-of-band drift
// (missing) though nobody touched the agent.
func TestStaleDumpCountsNoDrift(t *testing.T) {
	f := newFixture(t)
	hold := &holdDump{}
	f.pool = agentclient.NewPool(agentclient.PoolOptions{Timeout: 5 * time.Second, HTTPClient: &http.Client{Transport: hold}})
	a := agenttest.Start(t, agenttest.Options{})
	n := f.addNode("n1", a.URL, a.Secret, a.Iface)
	rec := f.reconciler()
	p := f.poller(Config{Reconciler: rec})
	if sum := p.PollOnce(f.ctx); sum.Reconciled != 1 {
		t.Fatalf("first poll: %+v", sum)
	}

	peer, _ := f.addPeer(n.ID)
	// The poll's dump is read without the peer; before it is back, the
	// reconcile the creation triggers puts the peer on the agent.
	applied := false
	hook := func() {
		rec.Trigger(n.ID)
		deadline := time.Now().Add(10 * time.Second)
		for !applied && time.Now().Before(deadline) {
			got, err := f.store.GetPeer(f.ctx, peer.ID)
			applied = err == nil && got.SyncState == store.SyncApplied
			time.Sleep(5 * time.Millisecond)
		}
	}
	hold.hook.Store(&hook)
	f.clock.Advance(time.Hour)
	sum := p.PollOnce(f.ctx)
	if !applied {
		t.Fatal("test broken: the triggered reconcile did not apply the peer while the dump was held")
	}
	if sum.Online != 1 || sum.Reconciled != 1 {
		t.Fatalf("stale poll: %+v", sum)
	}
	// The first poll's dump, then the held one, the triggered reconcile's
	// own and the one it reads after adding the peer, and the held one
	// read again.
	if got := hold.dumps.Load(); got != 5 {
		t.Errorf("%d dumps, want 5: the stale dump is read again", got)
	}
	peers, err := a.Tunnel(a.Iface).Peers()
	if err != nil || len(peers) != 1 {
		t.Fatalf("agent has %d peers (%v), want 1", len(peers), err)
	}
	nd := f.node(n.ID)
	if nd.DriftCount != 0 || nd.DriftCurrent != 0 {
		t.Fatalf("drift_count %d, drift_current %d after a stale dump; nobody touched the agent: want 0 and 0", nd.DriftCount, nd.DriftCurrent)
	}
	if logs := f.logs.String(); strings.Contains(logs, "drift") {
		t.Fatalf("drift logged:\n%s", logs)
	}
}
