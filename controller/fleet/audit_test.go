package fleet

import (
	"context"
	"encoding/hex"
	"slices"
	"strings"
	"testing"
)

// TestAuditTrail runs every kind of change and checks that each left an
// entry naming the actor, and that no entry holds a secret.
func TestAuditTrail(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	var secrets []string
	keep := func(s string) { secrets = append(secrets, s, hex.EncodeToString([]byte(s))) }

	in := nodeIn("n1")
	keep(*in.Secret)
	n1 := e.createNode(t, in)
	n2 := e.createNode(t, nodeIn("n2"))
	keep("secret-of-n2-0123456789abcdef")
	e.setOnline(t, n1.ID, "wg0", newKey(t).PublicKey())
	e.setOnline(t, n2.ID, "wg0", newKey(t).PublicKey())
	rotated := "rotated-secret-0123456789abcdef"
	keep(rotated)
	if _, err := e.svc.UpdateNode(ctx, actor, n1.ID, NodeInput{Secret: &rotated, Weight: ptr(7)}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.ToggleNode(ctx, actor, n2.ID, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.ToggleNode(ctx, actor, n2.ID, nil); err != nil {
		t.Fatal(err)
	}
	e.setOnline(t, n2.ID, "wg0", newKey(t).PublicKey())

	p := e.createPeer(t, n1.ID, PeerInput{PresharedKey: ptr("auto")})
	q := e.createPeer(t, n1.ID, PeerInput{})
	for _, id := range []int64{p.ID, q.ID} {
		sp, err := e.store.GetPeer(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		keep(sp.PrivateKey.String())
		if sp.PresharedKey != nil {
			keep(sp.PresharedKey.String())
		}
	}
	if _, err := e.svc.UpdatePeer(ctx, actor, p.ID, PeerInput{PresharedKey: ptr("auto")}); err != nil {
		t.Fatal(err)
	}
	if sp, err := e.store.GetPeer(ctx, p.ID); err == nil {
		keep(sp.PresharedKey.String())
	}
	if _, err := e.svc.SetPeerEnabled(ctx, actor, p.ID, false); err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.SetPeerEnabled(ctx, actor, p.ID, true); err != nil {
		t.Fatal(err)
	}
	if _, _, err := e.svc.PeerConfig(ctx, actor, p.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.PeerQR(ctx, actor, q.ID); err != nil {
		t.Fatal(err)
	}
	moved, err := e.svc.MovePeer(ctx, actor, p.ID, n2.ID)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.DrainNode(ctx, actor, n1.ID, DrainOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := e.svc.DeletePeer(ctx, actor, moved.Peer.ID); err != nil {
		t.Fatal(err)
	}
	if err := e.svc.DeleteNode(ctx, actor, n2.ID, true); err != nil {
		t.Fatal(err)
	}

	entries := e.audit(t)
	var actions []string
	for _, a := range entries {
		actions = append(actions, a.Action)
		if a.Actor != string(actor) {
			t.Errorf("entry %s by %q, want %q", a.Action, a.Actor, actor)
		}
		text := a.Action + a.TargetType + a.TargetID + string(a.Details)
		for _, s := range secrets {
			if strings.Contains(text, s) {
				t.Errorf("audit entry %s holds a secret: %s", a.Action, a.Details)
			}
		}
	}
	for _, want := range []string{"node.create", "node.update", "node.disable", "node.enable", "peer.create", "peer.update",
		"peer.restrict", "peer.allow", "peer.config_downloaded", "peer.move", "node.drain", "peer.delete", "node.delete"} {
		if !slices.Contains(actions, want) {
			t.Errorf("no %s entry in %v", want, actions)
		}
	}
}
