package fleet

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/wgfleet/wgfleet/controller/labels"
	"github.com/wgfleet/wgfleet/controller/store"
)

// labelledNode is a node of a region case: its labels, status, max peers,
// weight and the peers it starts with.
type labelledNode struct {
	name     string
	labels   labels.Set
	status   store.NodeStatus
	maxPeers int
	weight   int
	peers    int
}

func (e *env) buildLabelledFleet(t *testing.T, nodes []labelledNode) map[string]int64 {
	t.Helper()
	ids := map[string]int64{}
	for _, ln := range nodes {
		in := nodeIn(ln.name)
		in.Labels, in.MaxPeers, in.Weight = ln.labels, ptr(ln.maxPeers), ptr(ln.weight)
		v := e.createNode(t, in)
		ids[ln.name] = v.ID
		for range ln.peers {
			e.createPeer(t, v.ID, PeerInput{})
		}
		e.setStatus(t, v.ID, ln.status)
	}
	return ids
}

// peerCounts is the number of peers of each named node.
func (e *env) peerCounts(t *testing.T, ids map[string]int64) map[string]int {
	t.Helper()
	out := map[string]int{}
	for name, id := range ids {
		n, err := e.store.CountPeers(context.Background(), id)
		if err != nil {
			t.Fatal(err)
		}
		out[name] = n
	}
	return out
}

var (
	euWest = labels.Set{"region": "eu-west", "provider": "hetzner"}
	usEast = labels.Set{"region": "us-east", "provider": "hetzner"}
)

// TestNodeLabelsInput: labels are validated whole, replace the stored
// set, count as a change only when they differ, and reach the audit log.
func TestNodeLabelsInput(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	in := nodeIn("edge")
	in.Labels = euWest
	v := e.createNode(t, in)
	if !v.Labels.Equal(euWest) {
		t.Fatalf("created labels %v", v.Labels)
	}
	if a := e.lastAudit(t, "node.create"); !strings.Contains(string(a.Details), `"labels":{"provider":"hetzner","region":"eu-west"}`) {
		t.Errorf("create audit %s", a.Details)
	}
	bad := nodeIn("bad")
	bad.Labels = labels.Set{"region": "eu-west", "Provider": "x"}
	_, err := e.svc.CreateNode(ctx, actor, bad)
	wantField(t, err, "labels")
	if !strings.Contains(err.Error(), `label "Provider"`) {
		t.Errorf("error %v does not name the bad label", err)
	}

	before := len(e.audit(t))
	if _, err := e.svc.UpdateNode(ctx, actor, v.ID, NodeInput{Labels: labels.Set{"provider": "hetzner", "region": "eu-west"}}); err != nil {
		t.Fatal(err)
	}
	if n := len(e.audit(t)); n != before {
		t.Errorf("an update to the same labels wrote %d audit entries", n-before)
	}
	got, err := e.svc.UpdateNode(ctx, actor, v.ID, NodeInput{Labels: labels.Set{"region": "us-east"}, Weight: ptr(3)})
	if err != nil || got.Labels.String() != "region=us-east" || got.Weight != 3 {
		t.Fatalf("update labels: %+v, %v", got, err)
	}
	if a := e.lastAudit(t, "node.update"); !strings.Contains(string(a.Details), `"labels"`) || !strings.Contains(string(a.Details), `"region":"us-east"`) {
		t.Errorf("update audit %s", a.Details)
	}
	if _, err := e.svc.UpdateNode(ctx, actor, v.ID, NodeInput{Labels: labels.Set{"region": "eu west"}, Weight: ptr(9)}); err == nil {
		t.Fatal("a bad label was accepted")
	}
	if n := e.node(t, v.ID); n.Weight != 3 || n.Labels.String() != "region=us-east" {
		t.Fatalf("a refused update changed the node: weight %d labels %v", n.Weight, n.Labels)
	}
	if _, err := e.svc.ListNodesMatching(ctx, labels.Set{"Region": "x"}); err == nil {
		t.Fatal("a bad selector was accepted")
	}
}

// TestPlacementBySelector: node_id "auto" with placement labels chooses
// only among the matching nodes, by the usual load rule; a selector no
// node fits is ErrNoNodeAvailable naming it.
func TestPlacementBySelector(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	ids := e.buildLabelledFleet(t, []labelledNode{
		{"eu1", euWest, store.NodeOnline, 0, 100, 2},
		{"eu2", euWest, store.NodeOnline, 0, 100, 0},
		{"eu-off", euWest, store.NodeOffline, 0, 100, 0},
		{"us1", usEast, store.NodeOnline, 0, 1000, 0}, // the best node overall
		{"bare", nil, store.NodeOnline, 0, 1000, 0},
	})
	auto := PeerInput{NodeID: []byte(`"auto"`), Placement: &Placement{Labels: labels.Set{"region": "eu-west"}}}
	for range 6 {
		e.createPeer(t, 0, auto)
	}
	got := e.peerCounts(t, ids)
	if got["eu1"] != 4 || got["eu2"] != 4 || got["eu-off"] != 0 || got["us1"] != 0 || got["bare"] != 0 {
		t.Fatalf("peers after 6 placements in eu-west: %v; want eu1 and eu2 4 each, none elsewhere", got)
	}
	if a := e.lastAudit(t, "peer.create"); !strings.Contains(string(a.Details), `"placement":"auto region=eu-west"`) {
		t.Errorf("create audit %s", a.Details)
	}
	// Two labels AND together.
	v := e.createPeer(t, 0, PeerInput{NodeID: []byte(`"auto"`), Placement: &Placement{Labels: usEast}})
	if v.NodeID != ids["us1"] {
		t.Errorf("placement in %v went to node %d, want us1 (%d)", usEast, v.NodeID, ids["us1"])
	}
	// Without a selector placement is as before: the best node of all.
	if v := e.createPeer(t, 0, PeerInput{NodeID: []byte(`"auto"`)}); v.NodeID != ids["us1"] && v.NodeID != ids["bare"] {
		t.Errorf("placement without a selector went to node %d", v.NodeID)
	}

	before := fmt.Sprint(e.peerCounts(t, ids))
	_, err := e.svc.CreatePeer(ctx, actor, 0, PeerInput{NodeID: []byte(`"auto"`), Placement: &Placement{Labels: labels.Set{"region": "ap-south"}}})
	if !errors.Is(err, ErrNoNodeAvailable) || !strings.Contains(err.Error(), "no node has labels region=ap-south") {
		t.Fatalf("placement in a region without nodes: %v", err)
	}
	if after := fmt.Sprint(e.peerCounts(t, ids)); after != before {
		t.Fatalf("a refused placement created a peer: %v -> %v", before, after)
	}
	// A selector only unfit nodes match: the reasons are theirs alone.
	_, err = e.svc.CreatePeer(ctx, actor, 0, PeerInput{NodeID: []byte(`"auto"`), Name: ptr("hetzner-peer"),
		Placement: &Placement{Labels: labels.Set{"region": "eu-west", "provider": "hetzner"}}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.ToggleNode(ctx, actor, ids["eu1"], ptr(false)); err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.ToggleNode(ctx, actor, ids["eu2"], ptr(false)); err != nil {
		t.Fatal(err)
	}
	before = fmt.Sprint(e.peerCounts(t, ids))
	_, err = e.svc.CreatePeer(ctx, actor, 0, auto)
	msg := ""
	if err != nil {
		msg = err.Error()
	}
	if !errors.Is(err, ErrNoNodeAvailable) || !strings.Contains(msg, "labels region=eu-west") ||
		!strings.Contains(msg, "eu1 is disabled") || !strings.Contains(msg, "eu-off is offline") || strings.Contains(msg, "us1") {
		t.Fatalf("placement where every matching node is unfit: %v", err)
	}
	if after := fmt.Sprint(e.peerCounts(t, ids)); after != before {
		t.Fatalf("a refused placement created a peer: %v -> %v", before, after)
	}

	// Placement is for "auto" only, and its labels follow the rules.
	_, err = e.svc.CreatePeer(ctx, actor, 0, PeerInput{NodeID: []byte(`5`), Placement: &Placement{Labels: euWest}})
	wantField(t, err, "placement")
	_, err = e.svc.CreatePeer(ctx, actor, ids["us1"], PeerInput{Placement: &Placement{}})
	wantField(t, err, "placement")
	_, err = e.svc.CreatePeer(ctx, actor, 0, PeerInput{NodeID: []byte(`"auto"`), Placement: &Placement{Labels: labels.Set{"region": ""}}})
	wantField(t, err, "placement.labels")
	_, err = e.svc.UpdatePeer(ctx, actor, v.ID, PeerInput{Placement: &Placement{Labels: euWest}})
	wantField(t, err, "placement")
	if n, err := e.svc.PlaceNode(ctx, usEast); err != nil || n.ID != ids["us1"] {
		t.Fatalf("PlaceNode(us-east) = %d, %v", n.ID, err)
	}
}

// TestDrainStaysInRegion: a drain moves peers only to nodes of the
// drained node's region, stops with ErrNoNodeAvailable naming the region
// when they are full, and with AnyRegion goes anywhere.
func TestDrainStaysInRegion(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	ids := e.buildLabelledFleet(t, []labelledNode{
		{"drained", euWest, store.NodeOnline, 0, 100, 4},
		{"eu2", labels.Set{"region": "eu-west"}, store.NodeOnline, 2, 100, 0},
		{"us1", usEast, store.NodeOnline, 0, 1000, 0},
		{"bare", nil, store.NodeOnline, 0, 1000, 0},
	})
	res, err := e.svc.DrainNode(ctx, actor, ids["drained"], DrainOptions{})
	if !errors.Is(err, ErrNoNodeAvailable) || !strings.Contains(err.Error(), "region eu-west") || !strings.Contains(err.Error(), "any_region") {
		t.Fatalf("drain with too little room in the region: %v", err)
	}
	if len(res.Moved) != 2 || res.Remaining != 2 || res.Region != "eu-west" || !strings.Contains(res.Message, "within region eu-west") {
		t.Fatalf("drain result %+v", res)
	}
	if got := e.peerCounts(t, ids); got["eu2"] != 2 || got["us1"] != 0 || got["bare"] != 0 {
		t.Fatalf("peers after the drain: %v; want 2 on eu2, none out of the region", got)
	}

	res, err = e.svc.DrainNode(ctx, actor, ids["drained"], DrainOptions{AnyRegion: true})
	if err != nil || len(res.Moved) != 2 || res.Remaining != 0 || res.Region != "" {
		t.Fatalf("drain to any region: %+v, %v", res, err)
	}
	if got := e.peerCounts(t, ids); got["drained"] != 0 || got["us1"]+got["bare"] != 2 {
		t.Fatalf("peers after the drain to any region: %v", got)
	}
	if a := e.lastAudit(t, "node.drain"); !strings.Contains(string(a.Details), `"any_region":true`) {
		t.Errorf("drain audit %s", a.Details)
	}

	// A node without a region drains to any node.
	res, err = e.svc.DrainNode(ctx, actor, ids["bare"], DrainOptions{})
	if err != nil || res.Remaining != 0 || res.Region != "" {
		t.Fatalf("drain of a node without a region: %+v, %v", res, err)
	}
}

// TestMovePeerAuto: an automatic move picks the best other node of the
// peer's region, or of any region when told; an explicit target may be
// in any region.
func TestMovePeerAuto(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	ids := e.buildLabelledFleet(t, []labelledNode{
		{"eu1", euWest, store.NodeOnline, 0, 100, 1},
		{"eu2", euWest, store.NodeOnline, 0, 100, 3},
		{"us1", usEast, store.NodeOnline, 0, 1000, 0},
	})
	peers, err := e.svc.ListPeers(ctx, ids["eu1"])
	if err != nil || len(peers) != 1 {
		t.Fatal(peers, err)
	}
	p := peers[0]
	m, err := e.svc.MovePeerAuto(ctx, actor, p.ID, DrainOptions{})
	if err != nil || m.ToNodeID != ids["eu2"] {
		t.Fatalf("auto move within eu-west: %+v, %v; want eu2", m, err)
	}
	if a := e.lastAudit(t, "peer.move"); !strings.Contains(string(a.Details), `"reason":"auto"`) {
		t.Errorf("move audit %s", a.Details)
	}
	// With eu1 at weight 0 nothing else in eu-west fits; the peer stays.
	if _, err := e.svc.UpdateNode(ctx, actor, ids["eu1"], NodeInput{Weight: ptr(0)}); err != nil {
		t.Fatal(err)
	}
	_, err = e.svc.MovePeerAuto(ctx, actor, p.ID, DrainOptions{})
	if !errors.Is(err, ErrNoNodeAvailable) || !strings.Contains(err.Error(), "labels region=eu-west: eu1 has weight 0") {
		t.Fatalf("auto move with no room in the region: %v", err)
	}
	m, err = e.svc.MovePeerAuto(ctx, actor, p.ID, DrainOptions{AnyRegion: true})
	if err != nil || m.ToNodeID != ids["us1"] {
		t.Fatalf("auto move to any region: %+v, %v; want us1", m, err)
	}
	// us1 is alone in us-east: nowhere to go, nothing changes.
	_, err = e.svc.MovePeerAuto(ctx, actor, p.ID, DrainOptions{})
	if !errors.Is(err, ErrNoNodeAvailable) || !strings.Contains(err.Error(), "no other node has labels region=us-east") {
		t.Fatalf("auto move from a region of one node: %v", err)
	}
	if got, _ := e.svc.GetPeer(ctx, p.ID); got.NodeID != ids["us1"] {
		t.Fatalf("a refused move moved the peer to %d", got.NodeID)
	}
	// An explicit target is an explicit choice, in any region.
	if m, err := e.svc.MovePeer(ctx, actor, p.ID, ids["eu1"]); err != nil || m.ToNodeID != ids["eu1"] {
		t.Fatalf("explicit move across regions: %+v, %v", m, err)
	}
}
