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
