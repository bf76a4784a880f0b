package fleet

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/wgfleet/wgfleet/controller/store"
)

// wantNameConflict fails unless err is a *ConflictError on field whose
// message says msg (a store.ErrConflict, a 409).
func wantNameConflict(t *testing.T, err error, field, msg string) {
	t.Helper()
	var ce *ConflictError
	if !errors.As(err, &ce) || !errors.Is(err, store.ErrConflict) || ce.Field != field || !strings.Contains(ce.Message, msg) {
		t.Fatalf("error %v, want a conflict on %s saying %q", err, field, msg)
	}
}

// TestPeerNamesUniquePerNode: a peer's name is unique on its node, letter
// case aside: a create or a rename onto a taken name is a conflict on
// "name" naming the peer that has it; the same name on another node, and
// a peer's own name in another case, are fine. A move onto a node where
// the name is taken is a conflict on "node_id"; draining passes that node
// over for the next.
func TestPeerNamesUniquePerNode(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	n1 := e.createNode(t, nodeIn("names-1"))
	n2 := e.createNode(t, nodeIn("names-2"))
	alice := e.createPeer(t, n1.ID, PeerInput{Name: ptr("alice")})
	bob := e.createPeer(t, n1.ID, PeerInput{Name: ptr("bob")})
	alice2 := e.createPeer(t, n2.ID, PeerInput{Name: ptr("Alice")})

	_, err := e.svc.CreatePeer(ctx, actor, n1.ID, PeerInput{Name: ptr(" ALICE ")})
	wantNameConflict(t, err, "name", fmt.Sprintf("a peer named alice is already on node names-1 (peer %d); choose another name", alice.ID))
	_, err = e.svc.UpdatePeer(ctx, actor, bob.ID, PeerInput{Name: ptr("Alice")})
	wantNameConflict(t, err, "name", "a peer named alice is already on node names-1")
	_, err = e.svc.UpdatePeer(ctx, actor, bob.ID, PeerInput{Name: ptr(" ")})
	wantField(t, err, "name")
	if v, err := e.svc.UpdatePeer(ctx, actor, alice.ID, PeerInput{Name: ptr("ALICE")}); err != nil || v.Name != "ALICE" {
		t.Fatalf("alice renamed to her own name in capitals: %+v, %v", v, err)
	}

	_, err = e.svc.MovePeer(ctx, actor, alice2.ID, n1.ID)
	wantNameConflict(t, err, "node_id", fmt.Sprintf("node names-1 already has a peer named ALICE (peer %d); rename one of them first", alice.ID))
	if p, err := e.svc.GetPeer(ctx, alice2.ID); err != nil || p.NodeID != n2.ID {
		t.Fatalf("after a refused move: on node %d, %v", p.NodeID, err)
	}
	if audits := e.audit(t); slices.ContainsFunc(audits, func(a store.AuditEntry) bool { return a.Action == "peer.move" }) {
		t.Fatal("a refused move was audited")
	}

	// Draining names-2 passes names-1 (ALICE is there) for names-3.
	n3 := e.createNode(t, nodeIn("names-3"))
	for _, id := range []int64{n1.ID, n2.ID, n3.ID} {
		e.setStatus(t, id, store.NodeOnline)
	}
	res, err := e.svc.DrainNode(ctx, actor, n2.ID, DrainOptions{})
	if err != nil || len(res.Moved) != 1 || res.Moved[0].ToNodeID != n3.ID {
		t.Fatalf("drain of names-2: %+v, %v; want Alice moved to names-3", res, err)
	}
}

// TestCreatePeersSkipsTakenNames: a bulk create numbers on from the
// highest number of its prefix, and skips a number whose name the node
// has in another letter case, so every name is free; a bulk create that
// fails (here: the pool runs out) creates none.
func TestCreatePeersSkipsTakenNames(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	n := e.createNode(t, nodeIn("bulk-names"))
	e.createPeer(t, n.ID, PeerInput{Name: ptr("cam-1")})
	e.createPeer(t, n.ID, PeerInput{Name: ptr("CAM-2")})
	e.createPeer(t, n.ID, PeerInput{Name: ptr("Cam-3")})
	res, err := e.svc.CreatePeers(ctx, actor, BulkPeerInput{Count: ptr(3), NamePrefix: ptr("cam-"),
		PeerInput: PeerInput{NodeID: []byte(fmt.Sprint(n.ID))}})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, p := range res.Peers {
		names = append(names, p.Name)
	}
	if !slices.Equal(names, []string{"cam-4", "cam-5", "cam-6"}) {
		t.Fatalf("bulk names %v, want cam-4 cam-5 cam-6 (cam-2 and cam-3 are taken as CAM-2 and Cam-3)", names)
	}

	before, err := e.svc.ListPeers(ctx, n.ID)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.CreatePeers(ctx, actor, BulkPeerInput{Count: ptr(250), NamePrefix: ptr("cam-"),
		PeerInput: PeerInput{NodeID: []byte(fmt.Sprint(n.ID))}}); err == nil {
		t.Fatal("250 more peers fit a /24 that holds 6")
	}
	if after, err := e.svc.ListPeers(ctx, n.ID); err != nil || len(after) != len(before) {
		t.Fatalf("a failed bulk create left %d peers, had %d (%v)", len(after), len(before), err)
	}
}
