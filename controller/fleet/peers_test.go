package fleet

import (
	"context"
	"errors"
	"slices"
	"strconv"
	"strings"
	"testing"

	"golang.zx2c4.com/wireguard/wgctrl/wgtypes"

	"github.com/wgfleet/wgfleet/controller/ipam"
	"github.com/wgfleet/wgfleet/controller/store"
)

func TestCreatePeerGeneratesKeysAndAddresses(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	n := e.createNode(t, nodeIn("n1"))
	e.syncer.take()

	v := e.createPeer(t, n.ID, PeerInput{Name: ptr(" alice "), PresharedKey: ptr("auto"), Keepalive: ptr(25)})
	if v.Name != "alice" || !v.HasPrivateKey || !v.HasPresharedKey || v.Address4 != "10.8.0.2" || v.Address6 != "fd00:8::2" ||
		!slices.Equal(v.AllowedIPs, []string{"10.8.0.2/32", "fd00:8::2/128"}) ||
		!slices.Equal(v.ClientAllowedIPs, []string{"0.0.0.0/0", "::/0"}) || v.Keepalive != 25 || !v.Enabled || v.SyncState != "pending" {
		t.Fatalf("peer view %+v", v)
	}
	for _, a := range v.AllowedIPs {
		if a == "10.8.0.0/24" || a == "fd00:8::/64" {
			t.Fatalf("allowed IPs hold the pool prefix: %v", v.AllowedIPs)
		}
	}
	sp, err := e.store.GetPeer(ctx, v.ID)
	if err != nil {
		t.Fatal(err)
	}
	if sp.PrivateKey == nil || sp.PrivateKey.PublicKey().String() != v.PublicKey || sp.PresharedKey == nil {
		t.Fatal("stored private key does not belong to the public key, or no preshared key")
	}
	js := jsonString(t, v)
	if strings.Contains(js, sp.PrivateKey.String()) || strings.Contains(js, sp.PresharedKey.String()) {
		t.Fatalf("peer JSON holds a secret key: %s", js)
	}
	if got := e.node(t, n.ID).DesiredGeneration; got != 2 {
		t.Fatalf("generation %d after create, want 2", got)
	}
	wantTriggers(t, e.syncer, n.ID)
	a := e.lastAudit(t, "peer.create")
	if a.TargetID != "1" || !strings.Contains(string(a.Details), v.PublicKey) || strings.Contains(string(a.Details), sp.PrivateKey.String()) {
		t.Fatalf("audit entry %+v", a)
	}

	// The next peer gets the next address; a client's own key is kept
	// without a private key.
	pub := newKey(t).PublicKey().String()
	v2 := e.createPeer(t, n.ID, PeerInput{PublicKey: &pub, Address: ptr("10.8.0.9"), ClientAllowedIPs: &[]string{"10.8.0.0/24"}})
	if v2.PublicKey != pub || v2.HasPrivateKey || v2.HasPresharedKey || v2.Address4 != "10.8.0.9" || v2.Address6 != "fd00:8::3" ||
		!slices.Equal(v2.ClientAllowedIPs, []string{"10.8.0.0/24"}) {
		t.Fatalf("second peer %+v", v2)
	}
	if _, err := e.svc.CreatePeer(ctx, actor, n.ID, PeerInput{Name: ptr("same-key"), PublicKey: &pub}); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("same public key again: %v, want ErrConflict", err)
	}
	if _, err := e.svc.CreatePeer(ctx, actor, n.ID, PeerInput{Name: ptr("same-address"), Address: ptr("10.8.0.9/32")}); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("address in use: %v, want ErrConflict", err)
	}
	if _, err := e.svc.CreatePeer(ctx, actor, 77, PeerInput{Name: ptr("nowhere")}); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("unknown node: %v, want ErrNotFound", err)
	}
}

func TestCreatePeerValidation(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	n := e.createNode(t, nodeIn("n1"))
	priv := newKey(t).String()
	slashy := wgtypes.Key{0xfb, 0xff, 0xbf, 1, 2, 3}.String() // "+/+/AQID...="
	tests := []struct {
		field string
		in    PeerInput
	}{
		{"name", PeerInput{Name: ptr(strings.Repeat("x", 65))}},
		{"name", PeerInput{Name: ptr("a\x00b")}},
		{"name", PeerInput{Name: ptr("")}},
		{"name", PeerInput{Name: ptr(" \t ")}},
		{"public_key", PeerInput{PublicKey: ptr("not-a-key")}},
		{"public_key", PeerInput{PublicKey: ptr("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=")}},
		{"public_key", PeerInput{PublicKey: ptr(priv[:20])}},
		// Only wg(8)'s form gets in: agentapi.ParseKey, as in a body.
		{"public_key", PeerInput{PublicKey: ptr(strings.TrimRight(slashy, "="))}},
		{"public_key", PeerInput{PublicKey: ptr(strings.NewReplacer("+", "-", "/", "_").Replace(slashy))}},
		{"public_key", PeerInput{PublicKey: ptr(strings.NewReplacer("+", "%2B", "/", "%2F", "=", "%3D").Replace(slashy))}},
		{"public_key", PeerInput{PublicKey: ptr(slashy[:20] + "\n" + slashy[20:])}},
		{"preshared_key", PeerInput{PresharedKey: ptr("generate")}},
		{"preshared_key", PeerInput{PresharedKey: ptr("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=")}},
		{"preshared_key", PeerInput{PresharedKey: ptr(slashy[:20] + "\r\n" + slashy[20:])}},
		{"address", PeerInput{Address: ptr("10.9.0.2")}},
		{"address", PeerInput{Address: ptr("10.8.0.1")}},
		{"address", PeerInput{Address: ptr("10.8.0.255")}},
		{"address", PeerInput{Address: ptr("10.8.0.0")}},
		{"address", PeerInput{Address: ptr("fd00:8::5")}},
		{"address", PeerInput{Address: ptr("10.8.0.5/24")}},
		{"client_allowed_ips", PeerInput{ClientAllowedIPs: &[]string{"0.0.0.0/0", "everything"}}},
		{"client_allowed_ips", PeerInput{ClientAllowedIPs: &[]string{"10.8.0.1/24"}}},
		{"dns", PeerInput{DNS: ptr("resolver")}},
		{"persistent_keepalive", PeerInput{Keepalive: ptr(-1)}},
		{"persistent_keepalive", PeerInput{Keepalive: ptr(65536)}},
		{"node_id", PeerInput{NodeID: []byte(`"auto"`)}},
		{"node_id", PeerInput{NodeID: []byte(`2`)}},
	}
	for _, tt := range tests {
		in := tt.in
		if in.Name == nil {
			in.Name = ptr("valid-name")
		}
		_, err := e.svc.CreatePeer(ctx, actor, n.ID, in)
		wantField(t, err, tt.field)
		if strings.Contains(err.Error(), priv[:20]) {
			t.Errorf("error %q quotes the key given", err)
		}
	}
	// A peer needs a name.
	_, err := e.svc.CreatePeer(ctx, actor, n.ID, PeerInput{})
	wantField(t, err, "name")
	if !strings.Contains(err.Error(), "name: is required") {
		t.Errorf("no name: %q", err)
	}
	if peers, err := e.svc.ListPeers(ctx, n.ID); err != nil || len(peers) != 0 {
		t.Fatalf("refused creates wrote %d peers (%v)", len(peers), err)
	}
	if got := e.node(t, n.ID).DesiredGeneration; got != 1 {
		t.Fatalf("refused creates bumped the generation to %d", got)
	}
	if entries := e.audit(t); len(entries) != 1 {
		t.Fatalf("refused creates wrote audit entries: %d", len(entries))
	}
}

// TestCreatePeerKeyText: a key in wg(8)'s form gets in, with white space
// around it trimmed, as the public and as the preshared key.
func TestCreatePeerKeyText(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	n := e.createNode(t, nodeIn("n1"))
	pub := wgtypes.Key{0xfb, 0xff, 0xbf, 1, 2, 3}
	psk := wgtypes.Key{0xff, 0xfe, 0xfd, 4, 5, 6}
	v, err := e.svc.CreatePeer(ctx, actor, n.ID, PeerInput{
		Name:         ptr("key-text"),
		PublicKey:    ptr(" " + pub.String() + "\n"),
		PresharedKey: ptr("\t" + psk.String() + " "),
	})
	if err != nil {
		t.Fatalf("CreatePeer: %v", err)
	}
	p, err := e.store.GetPeer(ctx, v.ID)
	if err != nil {
		t.Fatal(err)
	}
	if p.PublicKey != pub {
		t.Errorf("public key = %s, want %s", p.PublicKey, pub)
	}
	if p.PresharedKey == nil || *p.PresharedKey != psk {
		t.Errorf("preshared key = %v, want %s", p.PresharedKey, psk)
	}
}

func TestCreatePeerPoolExhausted(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	in := nodeIn("tiny")
	in.IPPool, in.IPPool6 = ptr("10.8.0.0/30"), ptr("")
	n := e.createNode(t, in)
	v := e.createPeer(t, n.ID, PeerInput{})
	if v.Address4 != "10.8.0.2" || v.Address6 != "" || !slices.Equal(v.AllowedIPs, []string{"10.8.0.2/32"}) {
		t.Fatalf("only peer of a /30: %+v", v)
	}
	gen := e.node(t, n.ID).DesiredGeneration
	_, err := e.svc.CreatePeer(ctx, actor, n.ID, PeerInput{Name: ptr("second")})
	if !errors.Is(err, ipam.ErrPoolExhausted) {
		t.Fatalf("second peer in a /30: %v, want ErrPoolExhausted", err)
	}
	if peers, _ := e.svc.ListPeers(ctx, n.ID); len(peers) != 1 || e.node(t, n.ID).DesiredGeneration != gen {
		t.Fatal("a refused create wrote something")
	}
	// Freeing the address makes room again.
	if err := e.svc.DeletePeer(ctx, actor, v.ID); err != nil {
		t.Fatal(err)
	}
	if again := e.createPeer(t, n.ID, PeerInput{}); again.Address4 != "10.8.0.2" {
		t.Fatalf("address after delete: %s, want the freed 10.8.0.2", again.Address4)
	}
}

func TestCreatePeerNodeFull(t *testing.T) {
	e := newEnv(t)
	in := nodeIn("small")
	in.MaxPeers = ptr(2)
	n := e.createNode(t, in)
	e.createPeer(t, n.ID, PeerInput{})
	e.createPeer(t, n.ID, PeerInput{})
	if _, err := e.svc.CreatePeer(context.Background(), actor, n.ID, PeerInput{Name: ptr("third")}); !errors.Is(err, store.ErrNodeFull) {
		t.Fatalf("third peer on a node of 2: %v, want ErrNodeFull", err)
	}
}

// A peer created while its agent is unreachable is stored pending: the
// service never talks to the agent to create it.
func TestCreatePeerAgentDown(t *testing.T) {
	e := newEnv(t)
	n := e.createNode(t, nodeIn("down"))
	e.setStatus(t, n.ID, store.NodeOffline)
	v := e.createPeer(t, n.ID, PeerInput{})
	if v.SyncState != "pending" {
		t.Fatalf("sync state %q, want pending", v.SyncState)
	}
	wantTriggers(t, e.syncer, n.ID, n.ID)
}

func TestSetPeerEnabled(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	n := e.createNode(t, nodeIn("n1"))
	p := e.createPeer(t, n.ID, PeerInput{})
	e.syncer.take()
	gen := e.node(t, n.ID).DesiredGeneration

	v, err := e.svc.SetPeerEnabled(ctx, actor, p.ID, false)
	if err != nil || v.Enabled || v.Address4 != p.Address4 {
		t.Fatalf("restrict: %+v, %v", v, err)
	}
	if got := e.node(t, n.ID).DesiredGeneration; got != gen+1 {
		t.Fatalf("restrict: generation %d, want %d", got, gen+1)
	}
	wantTriggers(t, e.syncer, n.ID)
	if a := e.lastAudit(t, "peer.restrict"); a.TargetID != strconv.FormatInt(p.ID, 10) {
		t.Fatalf("restrict audit %+v", a)
	}

	if _, err := e.svc.SetPeerEnabled(ctx, actor, p.ID, false); err != nil {
		t.Fatal(err)
	}
	if got := e.node(t, n.ID).DesiredGeneration; got != gen+1 {
		t.Fatal("restricting a restricted peer bumped the generation")
	}
	wantTriggers(t, e.syncer)

	v, err = e.svc.SetPeerEnabled(ctx, actor, p.ID, true)
	if err != nil || !v.Enabled {
		t.Fatalf("allow: %+v, %v", v, err)
	}
	if got := e.node(t, n.ID).DesiredGeneration; got != gen+2 {
		t.Fatalf("allow: generation %d, want %d", got, gen+2)
	}
	wantTriggers(t, e.syncer, n.ID)
	e.lastAudit(t, "peer.allow")
	if _, err := e.svc.SetPeerEnabled(ctx, actor, 404, true); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("unknown peer: %v", err)
	}
}

func TestUpdatePeer(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	n := e.createNode(t, nodeIn("n1"))
	p := e.createPeer(t, n.ID, PeerInput{Name: ptr("a"), PresharedKey: ptr("auto")})
	e.syncer.take()
	gen := e.node(t, n.ID).DesiredGeneration

	v, err := e.svc.UpdatePeer(ctx, actor, p.ID, PeerInput{Name: ptr("b"), Keepalive: ptr(15), DNS: ptr("9.9.9.9"),
		PresharedKey: ptr(""), ClientAllowedIPs: &[]string{"10.0.0.0/8"}, Address: ptr(p.Address4)})
	if err != nil {
		t.Fatal(err)
	}
	if v.Name != "b" || v.Keepalive != 15 || v.DNS != "9.9.9.9" || v.HasPresharedKey || !v.HasPrivateKey ||
		!slices.Equal(v.ClientAllowedIPs, []string{"10.0.0.0/8"}) || v.Address4 != p.Address4 {
		t.Fatalf("updated peer %+v", v)
	}
	if got := e.node(t, n.ID).DesiredGeneration; got != gen+1 {
		t.Fatalf("generation %d, want %d", got, gen+1)
	}
	wantTriggers(t, e.syncer, n.ID)

	// A key the client brings replaces the pair the controller made.
	pub := newKey(t).PublicKey().String()
	v, err = e.svc.UpdatePeer(ctx, actor, p.ID, PeerInput{PublicKey: &pub})
	if err != nil || v.PublicKey != pub || v.HasPrivateKey {
		t.Fatalf("new public key: %+v, %v", v, err)
	}

	_, err = e.svc.UpdatePeer(ctx, actor, p.ID, PeerInput{Address: ptr("10.8.0.50")})
	wantField(t, err, "address")
	_, err = e.svc.UpdatePeer(ctx, actor, p.ID, PeerInput{Keepalive: ptr(70000)})
	wantField(t, err, "persistent_keepalive")
	_, err = e.svc.UpdatePeer(ctx, actor, p.ID, PeerInput{NodeID: []byte("3")})
	wantField(t, err, "node_id")

	gen = e.node(t, n.ID).DesiredGeneration
	if _, err := e.svc.UpdatePeer(ctx, actor, p.ID, PeerInput{Name: ptr("b")}); err != nil {
		t.Fatal(err)
	}
	if e.node(t, n.ID).DesiredGeneration != gen {
		t.Fatal("a no-op update bumped the generation")
	}
}

func TestDeletePeer(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	n := e.createNode(t, nodeIn("n1"))
	p := e.createPeer(t, n.ID, PeerInput{})
	e.syncer.take()
	if err := e.svc.DeletePeer(ctx, actor, p.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.GetPeer(ctx, p.ID); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("deleted peer: %v", err)
	}
	if allocations(t, e.path, n.ID) != 0 {
		t.Fatal("delete left the address allocated")
	}
	wantTriggers(t, e.syncer, n.ID)
	if a := e.lastAudit(t, "peer.delete"); !strings.Contains(string(a.Details), p.PublicKey) {
		t.Fatalf("delete audit %+v", a)
	}
	if err := e.svc.DeletePeer(ctx, actor, p.ID); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("second delete: %v", err)
	}
}
