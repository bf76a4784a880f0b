package fleet

import (
	"sync"
	"testing"
	"time"
)

// pushingSyncer is a recordingSyncer that is also a Pusher and remembers
// every Push.
type pushingSyncer struct {
	recordingSyncer
	mu     sync.Mutex
	pushes [][3]int64 // node, peer, generation
}

var _ Pusher = (*pushingSyncer)(nil)

func (p *pushingSyncer) Push(nodeID, peerID, gen int64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.pushes = append(p.pushes, [3]int64{nodeID, peerID, gen})
}

func (p *pushingSyncer) takePushes() [][3]int64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := p.pushes
	p.pushes = nil
	return out
}

// TestCreatePeerPushes: with a Syncer that can push, a peer created on
// its node is pushed, with the generation its creation made, and no
// reconcile of the node is triggered; a peer created already expired
// (off its node at once) triggers a reconcile and is not pushed.
func TestCreatePeerPushes(t *testing.T) {
	e := newEnv(t)
	ps := &pushingSyncer{}
	e.svc = New(Config{Store: e.store, Syncer: ps, AgentTimeout: 3 * time.Second})
	n := e.createNode(t, nodeIn("fra1"))
	ps.take()
	ps.takePushes()

	p := e.createPeer(t, n.ID, PeerInput{Name: ptr("laptop")})
	gen := e.node(t, n.ID).DesiredGeneration
	got := ps.takePushes()
	if len(got) != 1 || got[0] != [3]int64{n.ID, p.ID, gen} {
		t.Fatalf("pushes %v, want one of node %d, peer %d, generation %d", got, n.ID, p.ID, gen)
	}
	wantTriggers(t, &ps.recordingSyncer)

	past := time.Now().Add(-time.Hour).UTC().Format(time.RFC3339)
	e.createPeer(t, n.ID, PeerInput{Name: ptr("expired"), ExpiresAt: rawJSON(past)})
	if got := ps.takePushes(); len(got) != 0 {
		t.Errorf("a peer created expired was pushed: %v", got)
	}
	if got := ps.take(); len(got) == 0 {
		t.Error("a peer created expired triggered no reconcile of its node")
	}
}
