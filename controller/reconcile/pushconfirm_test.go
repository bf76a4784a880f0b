package reconcile

import (
	"net/netip"
	"testing"

	"github.com/wgfleet/wgfleet/agent/agentapi"
	"github.com/wgfleet/wgfleet/agent/agenttest"
	"github.com/wgfleet/wgfleet/controller/store"
)

// pushAndWait creates one peer on the node, pushes it (Run must be
// running) and waits until its record has committed: the peer applied and
// the generation its creation made acknowledged.
func (f *fixture) pushAndWait(nodeID int64) store.Peer {
	f.t.Helper()
	p := f.addPeers(nodeID, 1)[0]
	gen := f.node(nodeID).DesiredGeneration
	f.r.Push(nodeID, p.ID, gen)
	f.waitApplied(p)
	waitFor(f.t, func() bool { return f.node(nodeID).AckedGeneration >= gen })
	return p
}

// TestPushKeepsTheDigest: after pushes that the dump read after each one
// confirmed, on a node that was in line, a poll's unchanged dump is
// compared by digest (no read of the node's peers, no agent call), in or
// out of the pushes' order; and what the agent then loses or gains behind
// the controller's back, a pushed peer included, is still caught on the
// next poll and repaired.
func TestPushKeepsTheDigest(t *testing.T) {
	f := newFixture(t, DefaultBulkThreshold)
	a := agenttest.Start(t, agenttest.Options{})
	n := f.addNode("n1", a, store.DriftRepair)
	f.addPeers(n.ID, 3)
	c := a.Client(t)
	f.confirmed(n.ID, c, a.Iface)
	f.start()

	pushed := []store.Peer{f.pushAndWait(n.ID), f.pushAndWait(n.ID)}
	if res := f.offerDump(n.ID, c, a.Iface); !res.Unchanged || res.Calls != 0 || !res.Acked || len(res.Drift) != 0 {
		t.Fatalf("poll after two confirmed pushes: %+v; want it compared by digest", res)
	}

	// Two creations pushed in the other order: the later generation's
	// peer first.
	first := f.addPeers(n.ID, 1)[0]
	gen1 := f.node(n.ID).DesiredGeneration
	second := f.addPeers(n.ID, 1)[0]
	gen2 := f.node(n.ID).DesiredGeneration
	f.r.Push(n.ID, second.ID, gen2)
	f.waitApplied(second)
	f.r.Push(n.ID, first.ID, gen1)
	f.waitApplied(first)
	waitFor(t, func() bool { return f.node(n.ID).AckedGeneration == gen2 })
	if res := f.offerDump(n.ID, c, a.Iface); !res.Unchanged || !res.Acked {
		t.Fatalf("poll after pushes out of order: %+v; want it compared by digest", res)
	}
	pushed = append(pushed, first, second)

	// A pushed peer removed behind the controller's back.
	if err := c.DeletePeer(t.Context(), a.Iface, pushed[2].PublicKey); err != nil {
		t.Fatal(err)
	}
	res := f.offerDump(n.ID, c, a.Iface)
	if res.Unchanged || len(res.Drift) != 1 || res.Drift[0].Kind != DriftMissing || res.Drift[0].Pending || !res.Repaired {
		t.Fatalf("after a pushed peer was removed on the agent: %+v; want it found, out of band, and repaired", res)
	}
	f.checkDrift(n.ID, 0, 1)
	f.assertConverged(a, n.ID)
	if res := f.offerDump(n.ID, c, a.Iface); !res.Unchanged {
		t.Fatalf("after the repair: %+v; want the digest again", res)
	}

	// A pushed peer changed behind the controller's back before the
	// next poll.
	changed := f.pushAndWait(n.ID)
	ka := 7
	if err := c.UpdatePeer(t.Context(), a.Iface, changed.PublicKey, agentapi.UpdatePeerRequest{PersistentKeepalive: &ka}); err != nil {
		t.Fatal(err)
	}
	res = f.offerDump(n.ID, c, a.Iface)
	if res.Unchanged || len(res.Drift) != 1 || res.Drift[0].Kind != DriftDifferent || !res.Repaired {
		t.Fatalf("after a pushed peer was changed on the agent: %+v; want it found and repaired", res)
	}
	f.checkDrift(n.ID, 0, 2)
	f.assertConverged(a, n.ID)

	// A stranger added after the last poll, then a push: the push's dump
	// shows it, so the push must not vouch for that dump.
	agentAdd(t, a, newKey(t).PublicKey(), "10.100.9.9/32")
	f.pushAndWait(n.ID)
	res = f.offerDump(n.ID, c, a.Iface)
	if res.Unchanged || len(res.Drift) != 1 || res.Drift[0].Kind != DriftUnknown || !res.Repaired {
		t.Fatalf("a stranger before a push: %+v; want it found and removed", res)
	}
	f.checkDrift(n.ID, 0, 3)
	f.assertConverged(a, n.ID)
}

// TestPushWithoutConfirmation: a push on a node that no reconcile found in
// line (none yet: a controller that just started) leaves the next poll to
// a full comparison, which then finds it in line; the digest serves only
// after that.
func TestPushWithoutConfirmation(t *testing.T) {
	f := newFixture(t, DefaultBulkThreshold)
	a := agenttest.Start(t, agenttest.Options{})
	n := f.addNode("n1", a, store.DriftRepair)
	f.addPeers(n.ID, 2)
	f.reconcile(n.ID)
	c := a.Client(t)
	f.r = New(Config{Store: f.store, Clients: f.pool, BulkThreshold: DefaultBulkThreshold, Workers: 2, Logger: f.r.log})
	f.start()
	f.pushAndWait(n.ID)
	if res := f.offerDump(n.ID, c, a.Iface); res.Unchanged || !res.Acked || len(res.Drift) != 0 {
		t.Fatalf("first poll after a push with nothing confirmed: %+v; want a full comparison, in line", res)
	}
	if res := f.offerDump(n.ID, c, a.Iface); !res.Unchanged {
		t.Fatalf("second poll: %+v; want the digest", res)
	}
}

// TestPushReadsADumpWhenItMust: a push confirms its peers with one read of
// each only when that read shows what a dump would; otherwise it reads one
// dump: for an agent that does not advertise interface-info (the /v1
// reads), for one whose dumps show preshared keys (a read of one peer
// never does), and for more peers than maxPeerReads. In each case the
// peers end applied and the next poll compares by digest.
func TestPushReadsADumpWhenItMust(t *testing.T) {
	tests := []struct {
		name   string
		opts   agenttest.FakeOptions
		peers  int
		dumps  int
		single int
	}{
		{"reads of one peer", agenttest.FakeOptions{}, 1, 0, 1},
		{"no interface-info", agenttest.FakeOptions{Capabilities: []string{agentapi.CapNonce, agentapi.CapPeerSync}}, 1, 1, 0},
		{"dumps show preshared keys", agenttest.FakeOptions{Dialect: agenttest.Dialect{Quirks: agenttest.Quirks{DumpShowsPSK: true}}}, 1, 1, 0},
		{"more peers than single reads", agenttest.FakeOptions{}, maxPeerReads + 1, 1, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, DefaultBulkThreshold)
			fake := agenttest.StartFake(t, tt.opts)
			n, err := f.store.CreateNode(f.ctx, store.Node{
				Name: "n1", AgentURL: fake.URL, Secret: []byte(fake.Secret), WGInterface: "wg0",
				IPPool: netip.MustParsePrefix("10.102.0.0/16"), Enabled: true, Weight: 100, DriftPolicy: store.DriftRepair,
			})
			if err != nil {
				t.Fatal(err)
			}
			f.addPeers(n.ID, 3) // the first with a preshared key
			c := fake.Client(t)
			f.confirmed(n.ID, c, "wg0")
			batch := f.addPeers(n.ID, tt.peers)
			f.rec.reset()
			gen := f.pushTogether(n.ID, batch)
			f.start()
			f.waitApplied(batch...)
			waitFor(t, func() bool { return f.node(n.ID).AckedGeneration == gen })
			if got := f.rec.count("GET dump"); got != tt.dumps {
				t.Errorf("dumps: %d, want %d (%v)", got, tt.dumps, f.rec.counts)
			}
			if got := f.rec.count("GET peer"); got != tt.single*tt.peers {
				t.Errorf("reads of one peer: %d, want %d (%v)", got, tt.single*tt.peers, f.rec.counts)
			}
			if res := f.offerDump(n.ID, c, "wg0"); !res.Unchanged || !res.Acked {
				t.Fatalf("poll after the push: %+v; want it compared by digest", res)
			}
		})
	}
}

// TestPollLeavesPeersToTheirPushes: a poll of a node in line whose only
// change since is a creation whose push waits sends nothing and
// acknowledges nothing (Result.Pushing): the push puts the peer there,
// and the next poll compares by digest. With something else changed too (a
// stranger on the agent), the poll compares in full as before.
func TestPollLeavesPeersToTheirPushes(t *testing.T) {
	f := newFixture(t, DefaultBulkThreshold)
	a := agenttest.Start(t, agenttest.Options{})
	n := f.addNode("n1", a, store.DriftRepair)
	f.addPeers(n.ID, 3)
	c := a.Client(t)
	// A poll as the poller offers it, reconciled here: Run does not run
	// yet, so pushes wait.
	r := f.r
	poll := func() Result {
		t.Helper()
		peers, at := pollDump(t, c, a.Iface)
		res, err := r.reconcile(f.ctx, n.ID, &Observation{Peers: peers, ReadAt: at}, false)
		if err != nil {
			t.Fatal(err)
		}
		return res
	}
	f.reconcile(n.ID)
	if res := poll(); !res.Unchanged {
		t.Fatalf("poll of a node in line: %+v; want the digest", res)
	}

	p := f.addPeers(n.ID, 1)[0]
	gen := f.node(n.ID).DesiredGeneration
	f.r.Push(n.ID, p.ID, gen)
	f.rec.reset()
	res := poll()
	if !res.Pushing || res.Unchanged || res.Acked || res.Calls != 0 || len(res.Drift) != 0 || res.DriftCurrent != 0 {
		t.Fatalf("poll with the creation's push waiting: %+v; want the peer left to its push", res)
	}
	if got := f.rec.total(); got != 0 {
		t.Errorf("agent calls: %v, want none", f.rec.counts)
	}
	if got := f.node(n.ID); got.AckedGeneration >= gen {
		t.Errorf("acked generation %d: the waiting creation's %d must not be acknowledged", got.AckedGeneration, gen)
	}
	f.start()
	f.waitApplied(p)
	waitFor(t, func() bool { return f.node(n.ID).AckedGeneration == gen })
	if res := poll(); !res.Unchanged || !res.Acked {
		t.Fatalf("poll after the push: %+v; want it compared by digest", res)
	}

	// A peer pushed and confirmed, then removed behind the controller's
	// back before the next poll: the dump is the confirmed one again,
	// without it. Drift, not a push under way.
	p2 := f.addPeers(n.ID, 1)[0]
	gen2 := f.node(n.ID).DesiredGeneration
	r.Push(n.ID, p2.ID, gen2)
	f.waitApplied(p2)
	waitFor(t, func() bool { return f.node(n.ID).AckedGeneration == gen2 })
	if err := c.DeletePeer(t.Context(), a.Iface, p2.PublicKey); err != nil {
		t.Fatal(err)
	}
	res = poll()
	if res.Pushing || res.Unchanged || len(res.Drift) != 1 || res.Drift[0].Kind != DriftMissing || !res.Repaired {
		t.Fatalf("poll after the pushed peer was removed on the agent: %+v; want it found and repaired", res)
	}
	f.checkDrift(n.ID, 0, 1)
	if res := poll(); !res.Unchanged {
		t.Fatalf("poll after the repair: %+v; want the digest", res)
	}

	// A stranger beside a waiting push: compared in full. A new
	// reconciler that does not run holds the push.
	r = New(Config{Store: f.store, Clients: f.pool, BulkThreshold: DefaultBulkThreshold, Workers: 2, Logger: f.r.log})
	if _, err := r.ReconcileNode(f.ctx, n.ID); err != nil {
		t.Fatal(err)
	}
	if res := poll(); !res.Unchanged {
		t.Fatalf("poll of a node in line: %+v; want the digest", res)
	}
	agentAdd(t, a, newKey(t).PublicKey(), "10.100.9.9/32")
	q := f.addPeers(n.ID, 1)[0]
	r.Push(n.ID, q.ID, f.node(n.ID).DesiredGeneration)
	res = poll()
	if res.Pushing || res.Unchanged || !res.Repaired || res.Removed != 1 || res.Added != 1 {
		t.Fatalf("poll with a stranger and a waiting push: %+v; want a full comparison: the stranger removed, the peer added", res)
	}
	f.checkDrift(n.ID, 0, 2)
}
