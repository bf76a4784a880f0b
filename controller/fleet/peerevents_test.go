package fleet

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/wgfleet/wgfleet/controller/events"
	"github.com/wgfleet/wgfleet/internal/testenv"
)

// TestPeerEvents: creating and deleting a peer each publish one event
// that names the peer (never a private key) and its node; a refused
// create publishes nothing.
func TestPeerEvents(t *testing.T) {
	e := newEnv(t)
	var (
		mu  sync.Mutex
		got []events.Event
	)
	e.svc = New(Config{Store: e.store, Syncer: e.syncer, AgentTimeout: 3 * time.Second,
		Events: events.PublisherFunc(func(_ context.Context, ev events.Event) {
			mu.Lock()
			defer mu.Unlock()
			got = append(got, ev)
		})})
	n := e.createNode(t, nodeIn("fra1"))
	p := e.createPeer(t, n.ID, PeerInput{Name: ptr("laptop")})
	if _, err := e.svc.CreatePeer(context.Background(), actor, n.ID, PeerInput{Name: ptr("bad"), PublicKey: ptr("not a key")}); err == nil {
		t.Fatal("a bad key was accepted")
	}
	if err := e.svc.DeletePeer(context.Background(), actor, p.ID); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(got) != 2 {
		t.Fatalf("events %+v, want peer.created and peer.deleted", got)
	}
	for i, want := range []events.Type{events.PeerCreated, events.PeerDeleted} {
		ev := got[i]
		testenv.Equal(t, "event type", ev.Type, want)
		if ev.Peer == nil || ev.Peer.ID != p.ID || ev.Peer.PublicKey != p.PublicKey || ev.Peer.Address4 != p.Address4 {
			t.Errorf("%s: peer %+v, want laptop's", want, ev.Peer)
		}
		if ev.Node == nil || ev.Node.ID != n.ID || ev.Node.Name != "fra1" {
			t.Errorf("%s: node %+v, want fra1", want, ev.Node)
		}
	}
}

// recordEvents makes e's service publish to a list it returns.
func recordEvents(e *env) func() []events.Event {
	var (
		mu  sync.Mutex
		got []events.Event
	)
	e.svc = New(Config{Store: e.store, Syncer: e.syncer, AgentTimeout: 3 * time.Second,
		Events: events.PublisherFunc(func(_ context.Context, ev events.Event) {
			mu.Lock()
			defer mu.Unlock()
			got = append(got, ev)
		})})
	return func() []events.Event {
		mu.Lock()
		defer mu.Unlock()
		return append([]events.Event(nil), got...)
	}
}

// TestPeerDeletedWithItsNode: a node deleted with force publishes
// peer.deleted for each of its peers, naming the node.
func TestPeerDeletedWithItsNode(t *testing.T) {
	e := newEnv(t)
	got := recordEvents(e)
	n := e.createNode(t, nodeIn("doomed"))
	a := e.createPeer(t, n.ID, PeerInput{Name: ptr("a")})
	b := e.createPeer(t, n.ID, PeerInput{Name: ptr("b")})
	if err := e.svc.DeleteNode(context.Background(), actor, n.ID, true); err != nil {
		t.Fatal(err)
	}
	deleted := map[int64]bool{}
	for _, ev := range got() {
		if ev.Type != events.PeerDeleted {
			continue
		}
		if ev.Node == nil || ev.Node.ID != n.ID || ev.Node.Name != "doomed" || ev.Peer == nil {
			t.Errorf("peer.deleted %+v: want the node doomed", ev)
			continue
		}
		deleted[ev.Peer.ID] = true
	}
	if len(deleted) != 2 || !deleted[a.ID] || !deleted[b.ID] {
		t.Errorf("peer.deleted for %v, want %d and %d", deleted, a.ID, b.ID)
	}
}

// TestPeerDeletedByItsLimit: a peer whose limit action is delete
// publishes peer.over_limit, then peer.deleted, when its usage reaches
// the limit.
func TestPeerDeletedByItsLimit(t *testing.T) {
	e := newEnv(t)
	got := recordEvents(e)
	n := e.createNode(t, nodeIn("metered"))
	p := e.createPeer(t, n.ID, PeerInput{Name: ptr("capped"), DataLimit: []byte("1000"), LimitAction: ptr("delete")})
	if err := e.store.RecordPeerStats(context.Background(), p.ID, time.Now(), 600, 600); err != nil {
		t.Fatal(err)
	}
	if err := e.svc.EnforceLimits(context.Background(), n.ID); err != nil {
		t.Fatal(err)
	}
	var types []events.Type
	for _, ev := range got() {
		if ev.Peer != nil && ev.Peer.ID == p.ID {
			types = append(types, ev.Type)
		}
	}
	want := []events.Type{events.PeerCreated, events.PeerOverLimit, events.PeerDeleted}
	if len(types) != len(want) || types[0] != want[0] || types[1] != want[1] || types[2] != want[2] {
		t.Errorf("events of the peer %v, want %v", types, want)
	}
	if _, err := e.store.GetPeer(context.Background(), p.ID); err == nil {
		t.Error("the peer over its limit is still there")
	}
}
