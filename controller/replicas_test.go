package controller_test

import (
	"context"
	"crypto/rand"
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/wgfleet/wgfleet/agent/agenttest"
	"github.com/wgfleet/wgfleet/controller/controllertest"
	"github.com/wgfleet/wgfleet/internal/testenv/pgtest"
)

type statusJSON struct {
	Replica string `json:"replica"`
	Leader  string `json:"leader"`
	Leading bool   `json:"leading"`
}

func (h *harness) status() statusJSON {
	h.t.Helper()
	var st statusJSON
	if code, raw := h.call("GET", "/api/status", nil, &st); code != http.StatusOK {
		h.t.Fatalf("GET /api/status: %d %s", code, raw)
	}
	return st
}

// TestTwoReplicasShareOneFleet: two controllers (each with its own pool)
// on one PostgreSQL database. One leads and both say which; peers created
// on both at once get distinct addresses, none is lost, and every one
// reaches the agent, also those accepted by the replica that does not
// lead (the leader notices the node's generation move).
func TestTwoReplicasShareOneFleet(t *testing.T) {
	cluster := pgtest.Require(t)
	dsn := cluster.NewDatabase(t)
	key := make([]byte, 32)
	rand.Read(key)
	opts := func(name string) controllertest.Options {
		// A long poll interval: what reaches the agent in seconds came
		// through a trigger or the leader's watch for changes, not a poll.
		return controllertest.Options{Database: dsn, MasterKey: key, ReplicaName: name, PollInterval: 30 * time.Second}
	}
	a := startControllerWith(t, opts("ctl-a"))
	b := startControllerWith(t, opts("ctl-b"))
	var sa, sb statusJSON
	eventually(t, 20*time.Second, "one replica leads", func() bool {
		sa, sb = a.status(), b.status()
		return sa.Leading != sb.Leading && sa.Leader != "" && sa.Leader == sb.Leader
	})
	if sa.Replica != "ctl-a" || sb.Replica != "ctl-b" {
		t.Fatalf("replica names %q and %q", sa.Replica, sb.Replica)
	}
	follower := b
	if sb.Leading {
		follower = a
	}
	t.Logf("leader %s", sa.Leader)

	ag := agenttest.Start(t, agenttest.Options{})
	n := a.addNode("shared-node", ag, "10.61.0.0/24")
	const each = 15
	var (
		mu    sync.Mutex
		peers []peerJSON
		wg    sync.WaitGroup
	)
	for _, h := range []*harness{a, b} {
		for w := range 3 {
			wg.Go(func() {
				for i := range each / 3 {
					var p peerJSON
					code, raw := h.call("POST", fmt.Sprintf("/api/nodes/%d/peers", n.ID),
						map[string]any{"name": fmt.Sprintf("%p-%d-%d", h, w, i)}, &p)
					if code != http.StatusCreated && code != http.StatusOK {
						t.Errorf("create peer: %d %s", code, raw)
						return
					}
					mu.Lock()
					peers = append(peers, p)
					mu.Unlock()
				}
			})
		}
	}
	wg.Wait()
	if len(peers) != 2*each {
		t.Fatalf("%d peers created, want %d", len(peers), 2*each)
	}
	addrs := map[string]bool{}
	for _, p := range peers {
		if addrs[p.Address4] {
			t.Fatalf("address %s given twice", p.Address4)
		}
		addrs[p.Address4] = true
	}
	var listed []peerJSON
	if code, raw := follower.call("GET", fmt.Sprintf("/api/nodes/%d/peers", n.ID), nil, &listed); code != http.StatusOK || len(listed) != 2*each {
		t.Fatalf("the follower lists %d peers (%d %s), want %d", len(listed), code, raw, 2*each)
	}
	eventually(t, 10*time.Second, "every peer on the agent", func() bool {
		for _, p := range peers {
			if !agentHas(t, ag, p.PublicKey) {
				return false
			}
		}
		return true
	})

	t.Log("a peer made on the follower alone reaches the agent")
	var p peerJSON
	if code, raw := follower.call("POST", fmt.Sprintf("/api/nodes/%d/peers", n.ID), map[string]any{"name": "late"}, &p); code >= 300 {
		t.Fatalf("create on the follower: %d %s", code, raw)
	}
	eventually(t, 8*time.Second, "the follower's peer on the agent", func() bool { return agentHas(t, ag, p.PublicKey) })
}

// agentHas reports whether the agent holds the peer with key pub.
func agentHas(t *testing.T, a *agenttest.Agent, pub string) bool {
	d, err := a.Client(t).Dump(context.Background(), a.Iface)
	if err != nil {
		return false
	}
	for _, p := range d.Peers {
		if p.PublicKey == pub {
			return true
		}
	}
	return false
}
