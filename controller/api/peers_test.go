package api

import (
	"bytes"
	"context"
	"fmt"
	"mime"
	"net/netip"
	"strings"
	"testing"

	"golang.zx2c4.com/wireguard/wgctrl/wgtypes"

	"github.com/wgfleet/wgfleet/agent/agenttest"
	"github.com/wgfleet/wgfleet/controller/fleet"
	"github.com/wgfleet/wgfleet/controller/store"
	"github.com/wgfleet/wgfleet/controller/wgconfig"
	"github.com/wgfleet/wgfleet/internal/testenv"
)

func TestPeerLifecycle(t *testing.T) {
	e := newEnv(t, envOptions{})
	c := e.login(t)
	ctx := context.Background()
	a := agenttest.Start(t, agenttest.Options{})
	n := createNode(t, c, "edge-1", a, "10.99.0.0/24")
	before, err := e.st.GetNode(ctx, n.ID)
	if err != nil {
		t.Fatal(err)
	}

	p := createPeer(t, c, n.ID, map[string]any{"name": "laptop", "persistent_keepalive": 25, "preshared_key": "auto"})
	addr, err := netip.ParseAddr(p.Address4)
	if err != nil || !netip.MustParsePrefix("10.99.0.0/24").Contains(addr) {
		t.Fatalf("address %q not from the pool", p.Address4)
	}
	testenv.Equal(t, "node_id", p.NodeID, n.ID)
	testenv.Equal(t, "name", p.Name, "laptop")
	testenv.Equal(t, "persistent_keepalive", p.Keepalive, 25)
	testenv.Equal(t, "has_private_key", p.HasPrivateKey, true)
	testenv.Equal(t, "has_preshared_key", p.HasPresharedKey, true)
	testenv.DeepEqual(t, "allowed_ips", p.AllowedIPs, []string{p.Address4 + "/32"})
	testenv.Equal(t, "sync_state", p.SyncState, "pending")
	testenv.Equal(t, "enabled", p.Enabled, true)
	// The database holds it, pending, and the node's desired generation
	// rose so the reconciler will apply it.
	sp, err := e.st.GetPeer(ctx, p.ID)
	if err != nil {
		t.Fatal(err)
	}
	if sp.SyncState != store.SyncPending || sp.PrivateKey == nil || sp.PrivateKey.PublicKey().String() != p.PublicKey {
		t.Errorf("stored peer: sync %s, private key matches public: %v", sp.SyncState, sp.PrivateKey != nil && sp.PrivateKey.PublicKey().String() == p.PublicKey)
	}
	after, err := e.st.GetNode(ctx, n.ID)
	if err != nil {
		t.Fatal(err)
	}
	if after.DesiredGeneration <= before.DesiredGeneration {
		t.Errorf("desired generation %d -> %d, want it to rise", before.DesiredGeneration, after.DesiredGeneration)
	}

	// A client that keeps its own key.
	own, err := wgtypes.GeneratePrivateKey()
	if err != nil {
		t.Fatal(err)
	}
	p2 := createPeer(t, c, n.ID, map[string]any{"name": "router", "public_key": own.PublicKey().String()})
	if p2.HasPrivateKey || p2.PublicKey != own.PublicKey().String() || p2.Address4 == p.Address4 {
		t.Errorf("own-key peer %+v", p2)
	}

	var all, onNode []fleet.PeerView
	c.do(t, "GET", "/api/peers", nil).want(t, 200).decode(t, &all)
	c.do(t, "GET", fmt.Sprintf("/api/nodes/%d/peers", n.ID), nil).want(t, 200).decode(t, &onNode)
	if len(all) != 2 || len(onNode) != 2 {
		t.Errorf("%d peers in all, %d on the node; want 2 and 2", len(all), len(onNode))
	}
	c.do(t, "GET", "/api/nodes/999/peers", nil).want(t, 404)
	path := fmt.Sprintf("/api/peers/%d", p.ID)
	var got fleet.PeerView
	c.do(t, "GET", path, nil).want(t, 200).decode(t, &got)
	if got.ID != p.ID || got.PublicKey != p.PublicKey {
		t.Errorf("get %+v", got)
	}

	c.do(t, "PUT", path, map[string]any{"name": "work laptop", "dns": "1.1.1.1"}).want(t, 200).decode(t, &got)
	if got.Name != "work laptop" || got.DNS != "1.1.1.1" || got.Address4 != p.Address4 {
		t.Errorf("after PUT %+v", got)
	}
	r := c.do(t, "PUT", path, map[string]any{"node_id": 2}).want(t, 400)
	if r.field() != "node_id" || !strings.Contains(r.msg(), "move") {
		t.Errorf("PUT node_id: field %q message %q", r.field(), r.msg())
	}

	c.do(t, "POST", path+"/restrict", nil).want(t, 200).decode(t, &got)
	if got.Enabled {
		t.Error("restricted peer is enabled")
	}
	if sp, _ := e.st.GetPeer(ctx, p.ID); sp.Enabled || sp.Address4.String() != p.Address4 {
		t.Errorf("restricted peer in the store: enabled %v address %s; want kept, disabled", sp.Enabled, sp.Address4)
	}
	c.do(t, "POST", path+"/allow", nil).want(t, 200).decode(t, &got)
	if !got.Enabled {
		t.Error("allowed peer is not enabled")
	}

	// The client config: an attachment, never cached, that parses.
	r = c.do(t, "GET", path+"/config", nil).want(t, 200)
	if ct := r.header.Get("Content-Type"); !strings.HasPrefix(ct, "text/plain") {
		t.Errorf("Content-Type %q", ct)
	}
	if cc := r.header.Get("Cache-Control"); cc != "no-store" {
		t.Errorf("Cache-Control %q", cc)
	}
	disp, params, err := mime.ParseMediaType(r.header.Get("Content-Disposition"))
	if err != nil || disp != "attachment" || !strings.HasSuffix(params["filename"], ".conf") {
		t.Errorf("Content-Disposition %q", r.header.Get("Content-Disposition"))
	}
	conf, err := wgconfig.Parse(r.body)
	if err != nil {
		t.Fatalf("config does not parse: %v\n%s", err, r.body)
	}
	// The config matches the peer.
	if conf.PrivateKey != *sp.PrivateKey {
		t.Error("config PrivateKey is not the peer's")
	}
	testenv.Equal(t, "config Endpoint", conf.Endpoint, "vpn.example.com:51820")
	if conf.PresharedKey == nil {
		t.Error("config has no PresharedKey")
	}
	if len(conf.Addresses) == 0 {
		t.Error("config has no Address")
	} else {
		testenv.Equal(t, "config Address[0]", conf.Addresses[0].Addr().String(), p.Address4)
	}
	testenv.Equal(t, "config PersistentKeepalive", conf.Keepalive, 25)
	r = c.do(t, "GET", path+"/qr", nil).want(t, 200)
	if r.header.Get("Content-Type") != "image/png" || r.header.Get("Cache-Control") != "no-store" ||
		!bytes.HasPrefix(r.body, []byte("\x89PNG\r\n\x1a\n")) {
		t.Errorf("QR: %s, %s, %d bytes", r.header.Get("Content-Type"), r.header.Get("Cache-Control"), len(r.body))
	}
	// No config for a peer whose private key the controller never had.
	r = c.do(t, "GET", fmt.Sprintf("/api/peers/%d/config", p2.ID), nil).want(t, 400)
	if r.field() != "private_key" {
		t.Errorf("config of own-key peer: field %q message %q", r.field(), r.msg())
	}

	c.do(t, "DELETE", path, nil).want(t, 200)
	c.do(t, "GET", path, nil).want(t, 404)
	c.do(t, "DELETE", path, nil).want(t, 404)
	c.do(t, "GET", path+"/config", nil).want(t, 404)
	c.do(t, "GET", "/api/peers/x", nil).want(t, 400)
}

func TestCreatePeerPlacement(t *testing.T) {
	e := newEnv(t, envOptions{})
	c := e.login(t)
	a1 := agenttest.Start(t, agenttest.Options{})
	a2 := agenttest.Start(t, agenttest.Options{})
	n1 := createNode(t, c, "edge-1", a1, "10.99.0.0/24")
	n2 := createNode(t, c, "edge-2", a2, "10.98.0.0/24")

	// By number. Nobody has polled edge-2: the answer does not promise
	// more than the node can give.
	var p fleet.PeerView
	r0 := c.do(t, "POST", "/api/peers", map[string]any{"node_id": n2.ID, "name": "a"}).want(t, 201)
	r0.decode(t, &p)
	if p.NodeID != n2.ID {
		t.Errorf("placed on %d, want %d", p.NodeID, n2.ID)
	}
	if want := "peer created; it is applied to node edge-2 as soon as the agent answers"; r0.msg() != want {
		t.Errorf("created on a node of unknown status: %q, want %q", r0.msg(), want)
	}
	r := c.do(t, "POST", "/api/peers", map[string]any{"name": "b"}).want(t, 400)
	if r.field() != "node_id" {
		t.Errorf("no node_id: field %q message %q", r.field(), r.msg())
	}
	c.do(t, "POST", "/api/peers", map[string]any{"node_id": 999, "name": "b"}).want(t, 404)

	// "auto" with no node known to be healthy is a 409 that says so.
	r = c.do(t, "POST", "/api/peers", map[string]any{"node_id": "auto", "name": "b"}).want(t, 409)
	if !strings.Contains(r.msg(), "no node available") {
		t.Errorf("auto without healthy nodes: %q", r.msg())
	}
	// Once the poller has seen node 1 online, "auto" picks it.
	if err := e.st.RecordNodeHealth(context.Background(), n1.ID, store.NodeOnline, nil, wgtypes.Key{}, "", true); err != nil {
		t.Fatal(err)
	}
	r = c.do(t, "POST", "/api/peers", map[string]any{"node_id": "auto", "name": "b"}).want(t, 201)
	r.decode(t, &p)
	if p.NodeID != n1.ID {
		t.Errorf("auto placed on %d, want %d", p.NodeID, n1.ID)
	}
	if want := "peer created; it is being applied to node edge-1"; r.msg() != want {
		t.Errorf("created on an online node: %q, want %q", r.msg(), want)
	}
	// A disabled node takes peers, and the answer says when they go on.
	c.do(t, "POST", fmt.Sprintf("/api/nodes/%d/toggle", n2.ID), map[string]any{"enabled": false}).want(t, 200)
	r = c.do(t, "POST", fmt.Sprintf("/api/nodes/%d/peers", n2.ID), map[string]any{"name": "c"}).want(t, 201)
	if want := "peer created; node edge-2 is disabled: the peer is applied once the node is enabled"; r.msg() != want {
		t.Errorf("created on a disabled node: %q, want %q", r.msg(), want)
	}
	// Offline: the agent did not answer the last poll.
	if err := e.st.RecordNodeHealth(context.Background(), n1.ID, store.NodeOffline, nil, wgtypes.Key{}, "connection refused", false); err != nil {
		t.Fatal(err)
	}
	r = c.do(t, "POST", fmt.Sprintf("/api/nodes/%d/peers", n1.ID), map[string]any{"name": "d"}).want(t, 201)
	if want := "peer created; it is applied to node edge-1 as soon as the agent answers"; r.msg() != want {
		t.Errorf("created on an offline node: %q, want %q", r.msg(), want)
	}
	// A node_id beside a node in the path must match it.
	r = c.do(t, "POST", fmt.Sprintf("/api/nodes/%d/peers", n1.ID), map[string]any{"node_id": n2.ID}).want(t, 400)
	if r.field() != "node_id" {
		t.Errorf("mismatched node_id: field %q message %q", r.field(), r.msg())
	}
}

func TestMovePeer(t *testing.T) {
	e := newEnv(t, envOptions{})
	c := e.login(t)
	a1 := agenttest.Start(t, agenttest.Options{})
	a2 := agenttest.Start(t, agenttest.Options{})
	n1 := createNode(t, c, "edge-1", a1, "10.99.0.0/24")
	n2 := createNode(t, c, "edge-2", a2, "10.98.0.0/24")
	p := createPeer(t, c, n1.ID, map[string]any{"name": "laptop"})
	path := fmt.Sprintf("/api/peers/%d/move", p.ID)

	r := c.do(t, "POST", path, map[string]any{}).want(t, 400)
	if r.field() != "node_id" {
		t.Errorf("move without node_id: field %q message %q", r.field(), r.msg())
	}
	c.do(t, "POST", path, map[string]any{"node_id": "two"}).want(t, 400)
	c.do(t, "POST", path, map[string]any{"node_id": 999}).want(t, 404)

	var res fleet.MoveResult
	r = c.do(t, "POST", path, map[string]any{"node_id": n2.ID}).want(t, 200)
	r.decode(t, &res)
	testenv.Equal(t, "move config_changed", res.ConfigChanged, true)
	testenv.Equal(t, "move peer.node_id", res.Peer.NodeID, n2.ID)
	testenv.Equal(t, "move peer.id", res.Peer.ID, p.ID)
	if !strings.HasPrefix(res.Address4, "10.98.0.") {
		t.Errorf("move address4 = %q, want one from 10.98.0.0/24", res.Address4)
	}
	testenv.Equal(t, "move previous_address4", res.PreviousAddress4, p.Address4)
	if !strings.Contains(r.msg(), "config changed") {
		t.Errorf("message %q should say the client config changed", r.msg())
	}
	var onOld []fleet.PeerView
	c.do(t, "GET", fmt.Sprintf("/api/nodes/%d/peers", n1.ID), nil).want(t, 200).decode(t, &onOld)
	if len(onOld) != 0 {
		t.Errorf("source still has %d peers", len(onOld))
	}
}
