package fleet

import (
	"context"
	"errors"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.zx2c4.com/wireguard/wgctrl/wgtypes"

	"github.com/wgfleet/wgfleet/agent/agentapi"
	"github.com/wgfleet/wgfleet/agent/agenttest"
	"github.com/wgfleet/wgfleet/controller/agentclient"
	"github.com/wgfleet/wgfleet/controller/fault"
	"github.com/wgfleet/wgfleet/controller/reconcile"
	"github.com/wgfleet/wgfleet/controller/store"
	"github.com/wgfleet/wgfleet/controller/wgconfig"
)

// Tests against real agents (agenttest: wireguard-go on a netstack behind
// the signed API on loopback).

// agentNode registers a running agent as a node.
func (e *env) agentNode(t *testing.T, name string, a *agenttest.Agent) NodeView {
	t.Helper()
	in := nodeIn(name)
	in.AgentURL, in.Secret, in.IPPool = &a.URL, &a.Secret, ptr("10.99.0.0/24")
	return e.createNode(t, in)
}

func agentKey(t *testing.T, a *agenttest.Agent) wgtypes.Key {
	t.Helper()
	info, err := a.Client(t).Interface(context.Background(), a.Iface)
	if err != nil {
		t.Fatal(err)
	}
	k, err := wgtypes.ParseKey(info.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func TestTestNode(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	a := agenttest.Start(t, agenttest.Options{})
	n := e.agentNode(t, "live", a)

	res, err := e.svc.TestNode(ctx, n.ID)
	if err != nil {
		t.Fatal(err)
	}
	if !res.OK || !slices.Contains(res.Interfaces, "wg0") || res.Version == "" || len(res.Health) == 0 || !strings.Contains(res.Message, "wg0") {
		t.Fatalf("test of a live agent: %+v", res)
	}
	if strings.Contains(string(res.Health), a.Secret) {
		t.Fatal("test result holds the secret")
	}
	if got := e.node(t, n.ID); got.Status != store.NodeUnknown {
		t.Fatalf("a test wrote status %s", got.Status)
	}

	wrong := nodeIn("wrong-secret")
	wrong.AgentURL, wrong.Secret = &a.URL, ptr("not-the-agents-secret-0123456789")
	w := e.createNode(t, wrong)
	res, err = e.svc.TestNode(ctx, w.ID)
	if err != nil || res.OK || !strings.Contains(res.Message, "check the secret") {
		t.Fatalf("wrong secret: %+v, %v", res, err)
	}
	if strings.Contains(res.Message, "not-the-agents-secret") || strings.Contains(res.Message, a.Secret) {
		t.Fatalf("message quotes a secret: %s", res.Message)
	}

	if err := a.Stop(); err != nil {
		t.Fatalf("stopping the agent: %v", err)
	}
	res, err = e.svc.TestNode(ctx, n.ID)
	// One sentence with the address and the reason; the Go error chain is
	// the detail.
	host := strings.TrimPrefix(a.URL, "http://")
	if err != nil || res.OK || res.Message != "Cannot reach the agent at "+host+" (connection refused)" ||
		!strings.Contains(res.Detail, "dial tcp") {
		t.Fatalf("stopped agent: %+v, %v", res, err)
	}
	if _, err := e.svc.TestNode(ctx, 99); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("unknown node: %v", err)
	}
}

func TestTestConnection(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	a := agenttest.Start(t, agenttest.Options{Iface: "wg7"})

	res, err := e.svc.TestConnection(ctx, a.URL, a.Secret, "wg7", "")
	if err != nil || !res.OK {
		t.Fatalf("good agent: %+v, %v", res, err)
	}
	res, err = e.svc.TestConnection(ctx, a.URL+"/", a.Secret, "", "")
	if err != nil || res.OK || !strings.Contains(res.Message, `no interface "wg0"`) || !strings.Contains(res.Message, "wg7") {
		t.Fatalf("missing interface: %+v, %v", res, err)
	}
	_, err = e.svc.TestConnection(ctx, "ftp://"+a.Addr, a.Secret, "wg7", "")
	wantField(t, err, "agent_url")
	_, err = e.svc.TestConnection(ctx, a.URL, "change-me-in-production", "wg7", "")
	wantField(t, err, "secret")
	_, err = e.svc.TestConnection(ctx, a.URL, a.Secret, "../wg7", "")
	wantField(t, err, "wg_interface")
	if len(e.audit(t)) != 0 {
		t.Fatal("a connection test wrote to the audit log")
	}
}

// TestDeleteNodeForceRemovesPeersFromAgent: the peers the controller put on
// an agent leave it with a forced delete; a peer added by hand stays.
func TestDeleteNodeForceRemovesPeersFromAgent(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	a := agenttest.Start(t, agenttest.Options{})
	c := a.Client(t)
	n := e.agentNode(t, "n1", a)
	for range 3 {
		p := e.createPeer(t, n.ID, PeerInput{})
		// What the reconciler would do.
		if _, err := c.AddPeer(ctx, "wg0", agentapi.AddPeerRequest{PublicKey: p.PublicKey, AllowedIPs: p.AllowedIPs}); err != nil {
			t.Fatal(err)
		}
	}
	byHand := newKey(t).PublicKey().String()
	if _, err := c.AddPeer(ctx, "wg0", agentapi.AddPeerRequest{PublicKey: byHand, AllowedIPs: []string{"10.99.0.200/32"}}); err != nil {
		t.Fatal(err)
	}
	if err := e.svc.DeleteNode(ctx, actor, n.ID, true); err != nil {
		t.Fatal(err)
	}
	d, err := c.Dump(ctx, "wg0")
	if err != nil {
		t.Fatal(err)
	}
	if len(d.Peers) != 1 || d.Peers[0].PublicKey != byHand {
		t.Fatalf("agent keeps %d peers after the forced delete, want only the one added by hand", len(d.Peers))
	}
}

func TestPeerConfig(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	n := e.createNode(t, nodeIn("n1"))
	serverKey := newKey(t).PublicKey()
	e.setOnline(t, n.ID, "wg0", serverKey)
	// The node side's keepalive (15) is not the client's (25): the
	// config carries the client's only.
	p := e.createPeer(t, n.ID, PeerInput{Name: ptr("Alice's phone"), PresharedKey: ptr("auto"), Keepalive: ptr(25), NodeKeepalive: ptr(15)})
	sp, err := e.store.GetPeer(ctx, p.ID)
	if err != nil {
		t.Fatal(err)
	}

	name, conf, err := e.svc.PeerConfig(ctx, actor, p.ID)
	if err != nil {
		t.Fatal(err)
	}
	if name != "wg-Alice-s-ph-1.conf" { // cut, and the peer's id after it
		t.Fatalf("file name %q", name)
	}
	c, err := wgconfig.Parse(conf)
	if err != nil {
		t.Fatalf("the config does not parse: %v\n%s", err, conf)
	}
	want := wgconfig.Client{
		Name:            "Alice's phone",
		PrivateKey:      *sp.PrivateKey,
		Addresses:       []netip.Prefix{netip.MustParsePrefix("10.8.0.2/32"), netip.MustParsePrefix("fd00:8::2/128")},
		DNS:             []string{"1.1.1.1"},
		ServerPublicKey: serverKey,
		PresharedKey:    sp.PresharedKey,
		Endpoint:        "n1.example.net:51820",
		AllowedIPs:      []netip.Prefix{netip.MustParsePrefix("0.0.0.0/0"), netip.MustParsePrefix("::/0")},
		Keepalive:       25,
	}
	if jsonString(t, c) != jsonString(t, want) {
		t.Fatalf("config\n%+v\nwant\n%+v", c, want)
	}
	a := e.lastAudit(t, "peer.config_downloaded")
	if a.TargetID != "1" || a.Actor != string(actor) || strings.Contains(string(a.Details), sp.PrivateKey.String()) ||
		strings.Contains(string(a.Details), sp.PresharedKey.String()) {
		t.Fatalf("download audit %+v", a)
	}

	// The peer's own DNS wins over the node's.
	if _, err := e.svc.UpdatePeer(ctx, actor, p.ID, PeerInput{DNS: ptr("9.9.9.9, 149.112.112.112")}); err != nil {
		t.Fatal(err)
	}
	_, conf, err = e.svc.PeerConfig(ctx, actor, p.ID)
	if err != nil {
		t.Fatal(err)
	}
	if c, err := wgconfig.Parse(conf); err != nil || !slices.Equal(c.DNS, []string{"9.9.9.9", "149.112.112.112"}) {
		t.Fatalf("DNS %v, %v", c.DNS, err)
	}

	png, err := e.svc.PeerQR(ctx, actor, p.ID)
	if err != nil || !strings.HasPrefix(string(png), "\x89PNG\r\n\x1a\n") {
		t.Fatalf("QR: %d bytes, %v", len(png), err)
	}
	if a := e.lastAudit(t, "peer.config_downloaded"); !strings.Contains(string(a.Details), `"format":"qr"`) {
		t.Fatalf("QR download audit %s", a.Details)
	}
}

func TestPeerConfigRefusals(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	n := e.createNode(t, nodeIn("n1"))
	e.setOnline(t, n.ID, "wg0", newKey(t).PublicKey())

	pub := newKey(t).PublicKey().String()
	own := e.createPeer(t, n.ID, PeerInput{PublicKey: &pub})
	_, _, err := e.svc.PeerConfig(ctx, actor, own.ID)
	wantField(t, err, "private_key")
	if !strings.Contains(err.Error(), "held by its owner") {
		t.Fatalf("message %q", err)
	}
	_, err = e.svc.PeerQR(ctx, actor, own.ID)
	wantField(t, err, "private_key")

	// A node without an endpoint, as a database from before endpoints
	// were required may hold one (CreateNode refuses it now).
	n2 := e.createNode(t, nodeIn("n2"))
	stored, err := e.store.GetNode(ctx, n2.ID)
	if err != nil {
		t.Fatal(err)
	}
	stored.Endpoint = ""
	if _, err := e.store.UpdateNode(ctx, stored); err != nil {
		t.Fatal(err)
	}
	e.setOnline(t, n2.ID, "wg0", newKey(t).PublicKey())
	p2 := e.createPeer(t, n2.ID, PeerInput{})
	_, _, err = e.svc.PeerConfig(ctx, actor, p2.ID)
	wantField(t, err, "endpoint")

	// No health document and an agent that does not answer.
	n3 := e.createNode(t, nodeIn("n3"))
	p3 := e.createPeer(t, n3.ID, PeerInput{})
	_, _, err = e.svc.PeerConfig(ctx, actor, p3.ID)
	if !errors.Is(err, agentclient.ErrUnreachable) || fault.ErrorCode(err) != fault.EAGENT || !strings.Contains(err.Error(), "test the node") {
		t.Fatalf("unknown node key: %v (code %s), want agentclient.ErrUnreachable (EAGENT)", err, fault.ErrorCode(err))
	}
	if _, _, err := e.svc.PeerConfig(ctx, actor, 999); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("unknown peer: %v", err)
	}
	for _, a := range e.audit(t) {
		if a.Action == "peer.config_downloaded" {
			t.Fatal("a refused download was audited as a download")
		}
	}
}

// TestPeerConfigAgentRefuses: an agent that answers but refuses the
// node's secret is not unreachable; the error still says what to do and
// carries the agent code.
func TestPeerConfigAgentRefuses(t *testing.T) {
	e := newEnv(t)
	a := agenttest.Start(t, agenttest.Options{})
	in := nodeIn("refusing")
	wrong := "another-secret-that-is-long-enough-0123456789"
	in.AgentURL, in.Secret, in.IPPool = &a.URL, &wrong, ptr("10.99.0.0/24")
	n := e.createNode(t, in)
	p := e.createPeer(t, n.ID, PeerInput{})
	_, _, err := e.svc.PeerConfig(context.Background(), actor, p.ID)
	if err == nil {
		t.Fatal("a config was made without the node's key")
	}
	if errors.Is(err, agentclient.ErrUnreachable) {
		t.Errorf("an agent that answered is called unreachable: %v", err)
	}
	if code := fault.ErrorCode(err); code != fault.EAGENT {
		t.Errorf("code %s, want %s", code, fault.EAGENT)
	}
	for _, want := range []string{"refused the request's signature", "test the node"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("message %q does not say %q", err, want)
		}
	}
}

// TestPeerConfigFromAgent: without a stored health document the node's key
// comes from the agent itself.
// TestKeepalivesClientSideAndNodeSide (issue 11 item 6): a peer's
// persistent_keepalive lands in its client config and never on the
// agent; node_keepalive is what the agent's interface gets. Both are read
// back from the agent's dump and the rendered config, after create and
// after an update.
func TestKeepalivesClientSideAndNodeSide(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	a := agenttest.Start(t, agenttest.Options{})
	n := e.agentNode(t, "live", a)
	rec := reconcile.New(reconcile.Config{Store: e.store, Clients: agentclient.NewPool(agentclient.PoolOptions{Timeout: 3 * time.Second})})
	// clientOnly asks for a client keepalive only (the NATed client);
	// both asks for both, with different values.
	clientOnly := e.createPeer(t, n.ID, PeerInput{Keepalive: ptr(25)})
	both := e.createPeer(t, n.ID, PeerInput{Keepalive: ptr(25), NodeKeepalive: ptr(15)})
	if clientOnly.NodeKeepalive != 0 || clientOnly.Keepalive != 25 || both.NodeKeepalive != 15 || both.Keepalive != 25 {
		t.Fatalf("views: %+v, %+v", clientOnly, both)
	}
	// check reconciles the node and compares what the agent holds and
	// what each config says with the wanted node and client keepalives.
	check := func(what string, want map[string][2]int) {
		t.Helper()
		res, err := rec.ReconcileNode(ctx, n.ID)
		if err != nil {
			t.Fatalf("%s: reconcile: %v", what, err)
		}
		if res.DriftCurrent != 0 || len(res.DriftAfter) != 0 {
			t.Fatalf("%s: reconcile left drift: %+v", what, res)
		}
		d, err := a.Client(t).Dump(ctx, "wg0")
		if err != nil {
			t.Fatal(err)
		}
		onAgent := map[string]int{}
		for _, p := range d.Peers {
			onAgent[p.PublicKey] = p.PersistentKeepalive
		}
		for id, v := range map[int64]PeerView{clientOnly.ID: clientOnly, both.ID: both} {
			w := want[v.PublicKey]
			got, ok := onAgent[v.PublicKey]
			if !ok || got != w[0] {
				t.Errorf("%s: peer %d on the agent: keepalive %d (held %v), want the node keepalive %d", what, id, got, ok, w[0])
			}
			_, conf, err := e.svc.PeerConfig(ctx, actor, id)
			if err != nil {
				t.Fatal(err)
			}
			c, err := wgconfig.Parse(conf)
			if err != nil {
				t.Fatal(err)
			}
			if c.Keepalive != w[1] {
				t.Errorf("%s: peer %d config PersistentKeepalive %d, want the client keepalive %d", what, id, c.Keepalive, w[1])
			}
		}
	}
	check("after create", map[string][2]int{clientOnly.PublicKey: {0, 25}, both.PublicKey: {15, 25}})

	// Changing one side leaves the other alone.
	if _, err := e.svc.UpdatePeer(ctx, actor, clientOnly.ID, PeerInput{NodeKeepalive: ptr(7)}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.UpdatePeer(ctx, actor, both.ID, PeerInput{Keepalive: ptr(0)}); err != nil {
		t.Fatal(err)
	}
	check("after update", map[string][2]int{clientOnly.PublicKey: {7, 25}, both.PublicKey: {15, 0}})
}

func TestPeerConfigFromAgent(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	a := agenttest.Start(t, agenttest.Options{})
	n := e.agentNode(t, "live", a)
	p := e.createPeer(t, n.ID, PeerInput{})
	_, conf, err := e.svc.PeerConfig(ctx, actor, p.ID)
	if err != nil {
		t.Fatal(err)
	}
	c, err := wgconfig.Parse(conf)
	if err != nil {
		t.Fatal(err)
	}
	if c.ServerPublicKey != agentKey(t, a) {
		t.Fatal("the config's server key is not the agent's interface key")
	}
	if c.Addresses[0] != netip.MustParsePrefix("10.99.0.2/32") {
		t.Fatalf("address %s", c.Addresses[0])
	}
}
