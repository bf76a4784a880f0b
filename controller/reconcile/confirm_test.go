package reconcile

import (
	"log/slog"
	"net/netip"
	"testing"
	"time"

	"golang.zx2c4.com/wireguard/wgctrl/wgtypes"

	"github.com/wgfleet/wgfleet/agent/agentapi"
	"github.com/wgfleet/wgfleet/agent/agenttest"
	"github.com/wgfleet/wgfleet/controller/store"
)

// pollDump reads the agent's peers as the poller does: the dump, and when
// its request was sent.
func pollDump(t *testing.T, c *agentapi.Client, iface string) ([]agentapi.Peer, time.Time) {
	t.Helper()
	at := time.Now()
	d, err := c.Dump(t.Context(), iface)
	if err != nil {
		t.Fatal(err)
	}
	return d.Peers, at
}

// offerDump offers what the agent holds now, as a poll does, and returns
// the reconcile's result.
func (f *fixture) offerDump(nodeID int64, c *agentapi.Client, iface string) Result {
	f.t.Helper()
	peers, at := pollDump(f.t, c, iface)
	res, err := f.offer(nodeID, peers, at)
	if err != nil {
		f.t.Fatalf("reconcile of the offered dump: %v", err)
	}
	return res
}

// confirmed brings the node in line and checks that an offered dump of
// the agent, unchanged, is then compared by digest, without reading the
// node's peers.
func (f *fixture) confirmed(nodeID int64, c *agentapi.Client, iface string) {
	f.t.Helper()
	f.reconcile(nodeID)
	for range 2 {
		res := f.offerDump(nodeID, c, iface)
		if !res.Unchanged || res.Calls != 0 || !res.Acked || len(res.Drift) != 0 || res.DriftCurrent != 0 {
			f.t.Fatalf("offered dump of a node in line: %+v; want it compared by digest", res)
		}
	}
}

// TestUnchangedDumpStillCatchesDrift: once a node is in line, a poll's
// dump that is the same is compared by digest (Result.Unchanged, no read
// of the node's peers), and every change made on a real agent behind the
// controller's back is still caught on the next poll, counted once and
// repaired; after the repair the digest takes over again.
func TestUnchangedDumpStillCatchesDrift(t *testing.T) {
	tests := []struct {
		name   string
		change func(t *testing.T, a *agenttest.Agent, peers []store.Peer)
		kind   DriftKind
		fields []string
	}{
		{"stranger added", func(t *testing.T, a *agenttest.Agent, _ []store.Peer) {
			agentAdd(t, a, newKey(t).PublicKey(), "10.100.9.9/32")
		}, DriftUnknown, nil},
		{"peer removed", func(t *testing.T, a *agenttest.Agent, peers []store.Peer) {
			if err := a.Client(t).DeletePeer(t.Context(), a.Iface, peers[1].PublicKey); err != nil {
				t.Fatal(err)
			}
		}, DriftMissing, nil},
		{"allowed IPs changed", func(t *testing.T, a *agenttest.Agent, peers []store.Peer) {
			ips := []string{"10.100.9.8/32"}
			if err := a.Client(t).UpdatePeer(t.Context(), a.Iface, peers[2].PublicKey, agentapi.UpdatePeerRequest{AllowedIPs: &ips}); err != nil {
				t.Fatal(err)
			}
		}, DriftDifferent, []string{FieldAllowedIPs}},
		{"keepalive changed", func(t *testing.T, a *agenttest.Agent, peers []store.Peer) {
			ka := 7
			if err := a.Client(t).UpdatePeer(t.Context(), a.Iface, peers[0].PublicKey, agentapi.UpdatePeerRequest{PersistentKeepalive: &ka}); err != nil {
				t.Fatal(err)
			}
		}, DriftDifferent, []string{FieldKeepalive}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, 0)
			a := agenttest.Start(t, agenttest.Options{})
			n := f.addNode("n1", a, store.DriftRepair)
			peers := f.addPeers(n.ID, 4)
			c := a.Client(t)
			f.confirmed(n.ID, c, a.Iface)

			tt.change(t, a, peers)
			res := f.offerDump(n.ID, c, a.Iface)
			if res.Unchanged || len(res.Drift) != 1 || !res.Repaired || res.DriftCurrent != 0 {
				t.Fatalf("after %s: %+v; want one difference found and repaired", tt.name, res)
			}
			if d := res.Drift[0]; d.Kind != tt.kind || d.Pending || len(d.Fields) != len(tt.fields) ||
				(len(tt.fields) > 0 && d.Fields[0] != tt.fields[0]) {
				t.Fatalf("drift %+v; want %s %v, out of band", d, tt.kind, tt.fields)
			}
			f.checkDrift(n.ID, 0, 1)
			f.assertConverged(a, n.ID)
			if res := f.offerDump(n.ID, c, a.Iface); !res.Unchanged {
				t.Fatalf("after the repair: %+v; want the digest again", res)
			}
			f.checkDrift(n.ID, 0, 1)
		})
	}
}

// TestUnchangedDumpPresharedKey: on an agent whose dump shows preshared
// keys, one changed or removed behind the controller's back is caught
// though the digest was in use.
func TestUnchangedDumpPresharedKey(t *testing.T) {
	for _, remove := range []bool{false, true} {
		name := map[bool]string{false: "changed", true: "removed"}[remove]
		t.Run(name, func(t *testing.T) {
			f := newFixture(t, 0)
			fake := agenttest.StartFake(t, agenttest.FakeOptions{Dialect: agenttest.Dialect{Quirks: agenttest.Quirks{DumpShowsPSK: true}}})
			n, err := f.store.CreateNode(f.ctx, store.Node{
				Name: "psk", AgentURL: fake.URL, Secret: []byte(fake.Secret), WGInterface: "wg0",
				IPPool: netip.MustParsePrefix("10.101.0.0/16"), Enabled: true, Weight: 100, DriftPolicy: store.DriftRepair,
			})
			if err != nil {
				t.Fatal(err)
			}
			peers := f.addPeers(n.ID, 3) // the first has a preshared key
			if peers[0].PresharedKey == nil {
				t.Fatal("fixture: the first peer has no preshared key")
			}
			c := fake.Client(t)
			f.confirmed(n.ID, c, "wg0")

			fake.Edit("wg0", func(ps map[wgtypes.Key]agentapi.Peer) {
				p := ps[peers[0].PublicKey]
				p.PresharedKey = nil
				if !remove {
					other := newKey(t).String()
					p.PresharedKey = &other
				}
				ps[peers[0].PublicKey] = p
			})
			res := f.offerDump(n.ID, c, "wg0")
			if res.Unchanged || len(res.Drift) != 1 || res.Drift[0].Kind != DriftDifferent ||
				len(res.Drift[0].Fields) != 1 || res.Drift[0].Fields[0] != FieldPresharedKey || !res.Repaired {
				t.Fatalf("after the preshared key was %s: %+v; want it found and repaired", name, res)
			}
			if psk, ok := fake.PresharedKey("wg0", peers[0].PublicKey); !ok || psk != *peers[0].PresharedKey {
				t.Fatal("the preshared key was not put back")
			}
			f.checkDrift(n.ID, 0, 1)
			if res := f.offerDump(n.ID, c, "wg0"); !res.Unchanged {
				t.Fatalf("after the repair: %+v; want the digest again", res)
			}
		})
	}
}

// TestUnchangedDumpDatabaseChanges: a change in the database is applied
// even though the agent's dump did not change (the node's generation
// moved), and so is one made during a reconcile; a controller that starts
// again (no memory) compares in full before it trusts a digest.
func TestUnchangedDumpDatabaseChanges(t *testing.T) {
	f := newFixture(t, 0)
	a := agenttest.Start(t, agenttest.Options{})
	n := f.addNode("n1", a, store.DriftRepair)
	peers := f.addPeers(n.ID, 4)
	c := a.Client(t)
	f.confirmed(n.ID, c, a.Iface)

	// An edit: the agent still shows the old keepalive.
	p := peers[1]
	p.NodeKeepalive = 11 * time.Second
	if _, err := f.store.UpdatePeer(f.ctx, p); err != nil {
		t.Fatal(err)
	}
	if res := f.offerDump(n.ID, c, a.Iface); res.Unchanged || res.Updated != 1 || !res.Acked {
		t.Fatalf("after an edit in the database: %+v; want it applied", res)
	}
	f.assertConverged(a, n.ID)

	// Disabled, deleted and created: each moves the generation.
	if err := f.store.SetPeerEnabled(f.ctx, peers[2].ID, false); err != nil {
		t.Fatal(err)
	}
	if res := f.offerDump(n.ID, c, a.Iface); res.Unchanged || res.Removed != 1 {
		t.Fatalf("after a peer was disabled: %+v; want it removed", res)
	}
	if _, err := f.store.DeletePeer(f.ctx, peers[3].ID); err != nil {
		t.Fatal(err)
	}
	if res := f.offerDump(n.ID, c, a.Iface); res.Unchanged || res.Removed != 1 {
		t.Fatalf("after a peer was deleted: %+v; want it removed", res)
	}
	f.addPeers(n.ID, 1)
	if res := f.offerDump(n.ID, c, a.Iface); res.Unchanged || res.Added != 1 {
		t.Fatalf("after a peer was created: %+v; want it added", res)
	}
	f.assertConverged(a, n.ID)
	f.checkDrift(n.ID, 0, 0)
	if res := f.offerDump(n.ID, c, a.Iface); !res.Unchanged {
		t.Fatalf("in line again: %+v; want the digest", res)
	}

	// A controller that starts again knows nothing yet.
	f.r = New(Config{Store: f.store, Clients: f.pool, Workers: 2, Logger: slog.New(slog.DiscardHandler)})
	f.running = false
	if res := f.offerDump(n.ID, c, a.Iface); res.Unchanged || !res.Acked || len(res.Drift) != 0 {
		t.Fatalf("first reconcile after a restart: %+v; want a full comparison, in line", res)
	}
	if res := f.offerDump(n.ID, c, a.Iface); !res.Unchanged {
		t.Fatalf("second reconcile after a restart: %+v; want the digest", res)
	}
	f.checkDrift(n.ID, 0, 0)
}

// TestUnchangedDumpNotWithDriftLeft: drift a node's policy leaves alone is
// compared in full on every poll (it is never "in line"), and counted once.
func TestUnchangedDumpNotWithDriftLeft(t *testing.T) {
	f := newFixture(t, 0)
	a := agenttest.Start(t, agenttest.Options{})
	n := f.addNode("n1", a, store.DriftReport)
	f.addPeers(n.ID, 3)
	c := a.Client(t)
	f.confirmed(n.ID, c, a.Iface)
	agentAdd(t, a, newKey(t).PublicKey(), "10.100.9.9/32")
	for range 3 {
		if res := f.offerDump(n.ID, c, a.Iface); res.Unchanged || res.DriftCurrent != 1 || res.Repaired {
			t.Fatalf("stranger left alone under report: %+v", res)
		}
	}
	f.checkDrift(n.ID, 1, 1)
}
