package fleet

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/wgfleet/wgfleet/controller/store"
)

// fleetNode describes one node of a placement case.
type fleetNode struct {
	name     string
	status   store.NodeStatus // store.NodeDisabled disables the node
	weight   int
	maxPeers int
	peers    int
}

func (e *env) buildFleet(t *testing.T, nodes []fleetNode) map[string]int64 {
	t.Helper()
	ctx := context.Background()
	ids := map[string]int64{}
	for _, fn := range nodes {
		in := nodeIn(fn.name)
		in.Weight, in.MaxPeers = ptr(fn.weight), ptr(fn.maxPeers)
		v := e.createNode(t, in)
		ids[fn.name] = v.ID
		for range fn.peers {
			e.createPeer(t, v.ID, PeerInput{})
		}
		switch fn.status {
		case store.NodeDisabled:
			if _, err := e.svc.ToggleNode(ctx, actor, v.ID, ptr(false)); err != nil {
				t.Fatal(err)
			}
		case store.NodeUnknown:
		default:
			e.setStatus(t, v.ID, fn.status)
		}
	}
	return ids
}

func TestPlaceNode(t *testing.T) {
	online, offline, errored, unknown, disabled := store.NodeOnline, store.NodeOffline, store.NodeError, store.NodeUnknown, store.NodeDisabled
	tests := []struct {
		name  string
		nodes []fleetNode
		want  string // "" for ErrNoNodeAvailable
		why   []string
	}{
		{"no nodes", nil, "", []string{"no nodes"}},
		{"only online nodes count", []fleetNode{
			{"off", offline, 100, 0, 0}, {"err", errored, 100, 0, 0}, {"new", unknown, 100, 0, 0},
			{"dis", disabled, 100, 0, 0}, {"busy", online, 100, 0, 50},
		}, "busy", nil},
		{"none healthy", []fleetNode{{"off", offline, 100, 0, 0}, {"dis", disabled, 100, 0, 0}, {"new", unknown, 100, 0, 0}},
			"", []string{"off is offline", "dis is disabled", "new is unknown"}},
		{"full nodes never", []fleetNode{{"full", online, 100, 2, 2}, {"room", online, 100, 100, 99}}, "room", nil},
		{"all full", []fleetNode{{"full", online, 100, 2, 2}}, "", []string{"full is full (2 of 2 peers)"}},
		{"weight 0 never", []fleetNode{{"zero", online, 0, 0, 0}, {"one", online, 1, 0, 5}}, "one", nil},
		{"lowest load", []fleetNode{{"half", online, 100, 10, 5}, {"third", online, 100, 30, 10}}, "third", nil},
		{"weight divides the load", []fleetNode{{"light", online, 100, 10, 2}, {"heavy", online, 300, 10, 4}}, "heavy", nil},
		{"unlimited nodes by count", []fleetNode{{"a", online, 100, 0, 7}, {"b", online, 100, 0, 3}}, "b", nil},
		{"empty nodes tie to the lower id", []fleetNode{{"first", online, 100, 0, 0}, {"second", online, 200, 0, 0}}, "first", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			ids := e.buildFleet(t, tt.nodes)
			n, err := e.svc.PlaceNode(context.Background(), nil)
			if tt.want == "" {
				if !errors.Is(err, ErrNoNodeAvailable) {
					t.Fatalf("PlaceNode = %s, %v; want ErrNoNodeAvailable", n.Name, err)
				}
				for _, w := range tt.why {
					if !strings.Contains(err.Error(), w) {
						t.Errorf("error %q does not say %q", err, w)
					}
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if n.ID != ids[tt.want] {
				t.Fatalf("PlaceNode chose %s, want %s", n.Name, tt.want)
			}
		})
	}
}

// Peers placed automatically spread in proportion to weight, and never
// land on an offline, disabled or full node.
func TestCreatePeerAuto(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	ids := e.buildFleet(t, []fleetNode{
		{"w1", store.NodeOnline, 100, 0, 0},
		{"w3", store.NodeOnline, 300, 0, 0},
		{"small", store.NodeOnline, 1000, 2, 2},
		{"off", store.NodeOffline, 1000, 0, 0},
		{"dis", store.NodeDisabled, 1000, 0, 0},
	})
	auto := PeerInput{NodeID: json.RawMessage(`"auto"`)}
	for i := range 40 {
		auto.Name = ptr(fmt.Sprintf("auto-%d", i))
		if _, err := e.svc.CreatePeer(ctx, actor, 0, auto); err != nil {
			t.Fatal(err)
		}
	}
	count := func(name string) int {
		peers, err := e.svc.ListPeers(ctx, ids[name])
		if err != nil {
			t.Fatal(err)
		}
		return len(peers)
	}
	if got := [5]int{count("w1"), count("w3"), count("small"), count("off"), count("dis")}; got != [5]int{10, 30, 2, 0, 0} {
		t.Fatalf("peers on w1, w3, small, off, dis = %v; want [10 30 2 0 0]", got)
	}
	if a := e.lastAudit(t, "peer.create"); !strings.Contains(string(a.Details), `"placement":"auto"`) {
		t.Fatalf("audit details %s", a.Details)
	}

	// node_id as a number, or a numeric string, picks that node.
	for _, raw := range []string{`3`, `"3"`} {
		v, err := e.svc.CreatePeer(ctx, actor, 0, PeerInput{NodeID: json.RawMessage(raw), Name: ptr("on-small")})
		if !errors.Is(err, store.ErrNodeFull) {
			t.Fatalf("node_id %s (full node 3): %+v, %v; want ErrNodeFull", raw, v, err)
		}
	}
	if v, err := e.svc.CreatePeer(ctx, actor, 0, PeerInput{NodeID: json.RawMessage(`4`), Name: ptr("on-off")}); err != nil || v.NodeID != 4 {
		t.Fatalf("node_id 4 (offline, chosen by hand): %+v, %v", v, err)
	}
	for _, raw := range []string{``, `null`, `"x"`, `0`, `-1`, `1.5`, `{}`} {
		_, err := e.svc.CreatePeer(ctx, actor, 0, PeerInput{NodeID: json.RawMessage(raw)})
		wantField(t, err, "node_id")
	}
	_, err := e.svc.CreatePeer(ctx, actor, 0, PeerInput{NodeID: json.RawMessage(`"auto"`), Address: ptr("10.8.0.77")})
	wantField(t, err, "address")
}

// When the best node's pool is exhausted, automatic placement takes the
// next one.
func TestCreatePeerAutoSkipsExhaustedPool(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	tiny := nodeIn("tiny")
	tiny.IPPool, tiny.Weight = ptr("10.8.0.0/30"), ptr(1000)
	tv := e.createNode(t, tiny)
	e.createPeer(t, tv.ID, PeerInput{})
	big := e.createNode(t, nodeIn("big"))
	e.setStatus(t, tv.ID, store.NodeOnline)
	e.setStatus(t, big.ID, store.NodeOnline)
	for range 3 {
		e.createPeer(t, big.ID, PeerInput{})
	}
	// tiny: 1 peer / 1e6 / 1000 is below big: 3 / 1e6 / 100.
	if n, err := e.svc.PlaceNode(ctx, nil); err != nil || n.ID != tv.ID {
		t.Fatalf("PlaceNode = %d, %v; want tiny", n.ID, err)
	}
	v, err := e.svc.CreatePeer(ctx, actor, 0, PeerInput{NodeID: json.RawMessage(`"auto"`), Name: ptr("auto-big")})
	if err != nil || v.NodeID != big.ID {
		t.Fatalf("auto with tiny's pool exhausted: %+v, %v; want node big", v, err)
	}
}
