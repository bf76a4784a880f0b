package fleet

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/wgfleet/wgfleet/controller/store"
	"github.com/wgfleet/wgfleet/controller/wgconfig"
)

// addresses returns the IPv4 addresses of a node's peers and fails on a
// duplicate.
func (e *env) addresses(t *testing.T, nodeID int64) map[string]int64 {
	t.Helper()
	peers, err := e.svc.ListPeers(context.Background(), nodeID)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]int64{}
	for _, p := range peers {
		for _, a := range []string{p.Address4, p.Address6} {
			if a == "" {
				continue
			}
			if other, dup := out[a]; dup {
				t.Fatalf("node %d gives %s to peers %d and %d", nodeID, a, other, p.ID)
			}
			out[a] = p.ID
		}
	}
	if n := allocations(t, e.path, nodeID); n != len(out) {
		t.Fatalf("node %d: %d allocation rows for %d addresses", nodeID, n, len(out))
	}
	return out
}

func TestMovePeer(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	src := e.createNode(t, nodeIn("src"))
	dstIn := nodeIn("dst")
	dstIn.Endpoint = ptr("dst.example.net:443")
	dst := e.createNode(t, dstIn)
	serverKey := newKey(t).PublicKey()
	e.setOnline(t, dst.ID, "wg0", serverKey)
	// dst already hands out .2 and .3; src's peer has .2 too.
	e.createPeer(t, dst.ID, PeerInput{})
	e.createPeer(t, dst.ID, PeerInput{})
	p := e.createPeer(t, src.ID, PeerInput{Name: ptr("mover"), PresharedKey: ptr("auto"), Keepalive: ptr(21), DNS: ptr("9.9.9.9")})
	stay := e.createPeer(t, src.ID, PeerInput{})
	if err := e.store.RecordPeerStats(ctx, p.ID, time.Unix(1700000000, 0), 1000, 2000); err != nil {
		t.Fatal(err)
	}
	before, err := e.store.GetPeer(ctx, p.ID)
	if err != nil {
		t.Fatal(err)
	}
	srcGen, dstGen := e.node(t, src.ID).DesiredGeneration, e.node(t, dst.ID).DesiredGeneration
	e.syncer.take()

	res, err := e.svc.MovePeer(ctx, actor, p.ID, dst.ID)
	if err != nil {
		t.Fatal(err)
	}
	if !res.ConfigChanged || res.Endpoint != "dst.example.net:443" || res.PreviousEndpoint != "src.example.net:51820" ||
		res.Address4 != "10.8.0.4" || res.PreviousAddress4 != "10.8.0.2" || res.Address6 != "fd00:8::4" ||
		res.FromNodeID != src.ID || res.ToNodeID != dst.ID || res.Peer.ID != p.ID || res.Peer.NodeID != dst.ID ||
		!strings.Contains(res.Message, "dst.example.net:443") {
		t.Fatalf("move result %+v", res)
	}
	moved, err := e.store.GetPeer(ctx, res.Peer.ID)
	if err != nil {
		t.Fatal(err)
	}
	if moved.PublicKey != before.PublicKey || *moved.PrivateKey != *before.PrivateKey || *moved.PresharedKey != *before.PresharedKey ||
		moved.Name != "mover" || moved.Keepalive != 21*time.Second || moved.DNS != "9.9.9.9" || !moved.Enabled ||
		moved.RxTotal != 1000 || moved.TxTotal != 2000 || moved.RxBytes != 0 || moved.SyncState != store.SyncPending {
		t.Fatalf("moved peer %+v", moved)
	}
	if got, err := e.svc.GetPeer(ctx, p.ID); err != nil || got.NodeID != dst.ID {
		t.Fatalf("the peer kept its id but is not on the target: %+v %v", got, err)
	}
	// Exactly once in the fleet, every address once per node.
	all, _ := e.svc.ListAllPeers(ctx)
	seen := 0
	for _, x := range all {
		if x.PublicKey == p.PublicKey {
			seen++
		}
	}
	if seen != 1 || len(all) != 4 {
		t.Fatalf("the key is held by %d peers, %d peers in all; want 1 and 4", seen, len(all))
	}
	if got := e.addresses(t, src.ID); len(got) != 2 || got[stay.Address4] != stay.ID || got["10.8.0.2"] != 0 {
		t.Fatalf("source addresses %v: want .2 freed and only the staying peer's", got)
	}
	e.addresses(t, dst.ID)
	if e.node(t, src.ID).DesiredGeneration != srcGen+1 || e.node(t, dst.ID).DesiredGeneration != dstGen+1 {
		t.Fatal("a move must bump both nodes' generations once")
	}
	wantTriggers(t, e.syncer, src.ID, dst.ID)
	a := e.lastAudit(t, "peer.move")
	if a.TargetID != strconv.FormatInt(res.Peer.ID, 10) || !strings.Contains(string(a.Details), `"from_node_id":`+strconv.FormatInt(src.ID, 10)) ||
		strings.Contains(string(a.Details), before.PrivateKey.String()) {
		t.Fatalf("move audit %+v", a)
	}

	// The freed address goes to the next peer of the source.
	if n := e.createPeer(t, src.ID, PeerInput{}); n.Address4 != "10.8.0.2" {
		t.Fatalf("next address on the source: %s, want the freed 10.8.0.2", n.Address4)
	}
	// The new config names the new node.
	_, conf, err := e.svc.PeerConfig(ctx, actor, res.Peer.ID)
	if err != nil {
		t.Fatal(err)
	}
	c, err := wgconfig.Parse(conf)
	if err != nil {
		t.Fatal(err)
	}
	if c.Endpoint != "dst.example.net:443" || c.ServerPublicKey != serverKey || c.Addresses[0].Addr().String() != "10.8.0.4" {
		t.Fatalf("config after the move: %+v", c)
	}
}

func TestMovePeerRefusals(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	src := e.createNode(t, nodeIn("src"))
	fullIn := nodeIn("full")
	fullIn.MaxPeers = ptr(1)
	full := e.createNode(t, fullIn)
	e.createPeer(t, full.ID, PeerInput{})
	disabled := e.createNode(t, nodeIn("disabled"))
	if _, err := e.svc.ToggleNode(ctx, actor, disabled.ID, ptr(false)); err != nil {
		t.Fatal(err)
	}
	p := e.createPeer(t, src.ID, PeerInput{})
	snapshot := func() string {
		all, _ := e.svc.ListAllPeers(ctx)
		nodes, _ := e.svc.ListNodes(ctx)
		return jsonString(t, all) + jsonString(t, nodes)
	}
	before := snapshot()
	e.syncer.take()

	_, err := e.svc.MovePeer(ctx, actor, p.ID, full.ID)
	if !errors.Is(err, store.ErrNodeFull) {
		t.Fatalf("move to a full node: %v, want ErrNodeFull", err)
	}
	_, err = e.svc.MovePeer(ctx, actor, p.ID, src.ID)
	wantField(t, err, "node_id")
	_, err = e.svc.MovePeer(ctx, actor, p.ID, disabled.ID)
	wantField(t, err, "node_id")
	if _, err := e.svc.MovePeer(ctx, actor, p.ID, 99); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("move to an unknown node: %v", err)
	}
	if _, err := e.svc.MovePeer(ctx, actor, 99, full.ID); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("move of an unknown peer: %v", err)
	}
	if after := snapshot(); after != before {
		t.Fatalf("refused moves changed the database:\n%s\n%s", before, after)
	}
	wantTriggers(t, e.syncer)
}

// TestMovePeerTargetUnreachable: the database commits the move even though
// neither agent answers; the reconciler converges later.
func TestMovePeerTargetUnreachable(t *testing.T) {
	e := newEnv(t)
	src := e.createNode(t, nodeIn("src"))
	dst := e.createNode(t, nodeIn("dst"))
	e.setStatus(t, dst.ID, store.NodeOffline)
	p := e.createPeer(t, src.ID, PeerInput{})
	e.syncer.take()
	res, err := e.svc.MovePeer(context.Background(), actor, p.ID, dst.ID)
	if err != nil || res.Peer.NodeID != dst.ID || res.Peer.SyncState != "pending" {
		t.Fatalf("move to an offline node: %+v, %v", res, err)
	}
	wantTriggers(t, e.syncer, src.ID, dst.ID)
}

func TestDrainNode(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	ids := e.buildFleet(t, []fleetNode{
		{"drained", store.NodeOnline, 100, 0, 7},
		{"a", store.NodeOnline, 100, 0, 1},
		{"b", store.NodeOnline, 100, 4, 0},
		{"off", store.NodeOffline, 100, 0, 0},
		{"dis", store.NodeDisabled, 100, 0, 0},
	})
	res, err := e.svc.DrainNode(ctx, actor, ids["drained"], DrainOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Moved) != 7 || res.Remaining != 0 {
		t.Fatalf("drain: %d moved, %d remain; want 7 and 0", len(res.Moved), res.Remaining)
	}
	count := func(name string) int { return len(e.addresses(t, ids[name])) / 2 }
	if got := [5]int{count("drained"), count("a"), count("b"), count("off"), count("dis")}; got[0] != 0 || got[1]+got[2] != 8 || got[3] != 0 || got[4] != 0 {
		t.Fatalf("peers on drained, a, b, off, dis = %v", got)
	}
	if n := e.lastAudit(t, "node.drain"); !strings.Contains(string(n.Details), `"moved":7`) {
		t.Fatalf("drain audit %s", n.Details)
	}
	if m := e.lastAudit(t, "peer.move"); !strings.Contains(string(m.Details), `"reason":"drain"`) {
		t.Fatalf("move audit %s", m.Details)
	}
}

// A drain with too little room elsewhere moves what fits and says what
// remains.
func TestDrainNodeNoRoom(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	ids := e.buildFleet(t, []fleetNode{
		{"drained", store.NodeOnline, 100, 0, 3},
		{"small", store.NodeOnline, 100, 1, 0},
		{"off", store.NodeOffline, 100, 0, 0},
	})
	res, err := e.svc.DrainNode(ctx, actor, ids["drained"], DrainOptions{})
	if !errors.Is(err, ErrNoNodeAvailable) {
		t.Fatalf("drain without room: %v, want ErrNoNodeAvailable", err)
	}
	if len(res.Moved) != 1 || res.Remaining != 2 || !strings.Contains(err.Error(), "2 remain") ||
		!strings.Contains(err.Error(), "small is full") || !strings.Contains(err.Error(), "off is offline") {
		t.Fatalf("drain result %+v, error %v", res, err)
	}
	e.addresses(t, ids["drained"])
	e.addresses(t, ids["small"])

	alone := newEnv(t)
	only := alone.buildFleet(t, []fleetNode{{"only", store.NodeOnline, 100, 0, 1}})
	if _, err := alone.svc.DrainNode(ctx, actor, only["only"], DrainOptions{}); !errors.Is(err, ErrNoNodeAvailable) || !strings.Contains(err.Error(), "no other node") {
		t.Fatalf("drain of the only node: %v", err)
	}
	if _, err := alone.svc.DrainNode(ctx, actor, 42, DrainOptions{}); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("drain of an unknown node: %v", err)
	}
}
