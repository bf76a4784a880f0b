package api

import (
	"context"
	"encoding/hex"
	"fmt"
	"net/url"
	"strings"
	"testing"

	"golang.zx2c4.com/wireguard/wgctrl/wgtypes"

	"github.com/wgfleet/wgfleet/agent/agenttest"
	"github.com/wgfleet/wgfleet/controller/auth"
	"github.com/wgfleet/wgfleet/controller/reconcile"
	"github.com/wgfleet/wgfleet/controller/store"
)

// No answer but the config download holds a node secret, a private or
// preshared key, a password, the session token or an API token (other than
// the one answer that creates it); no log line holds any of them.
func TestNoSecretsInResponsesOrLogs(t *testing.T) {
	e := newEnv(t, envOptions{})
	e.rec.set([]reconcile.Drift{{Kind: reconcile.DriftMissing, PublicKey: "x", Desired: &reconcile.PeerState{HasPresharedKey: true}}}, nil)
	c := e.login(t)
	ctx := context.Background()
	a1 := agenttest.Start(t, agenttest.Options{})
	a2 := agenttest.Start(t, agenttest.Options{})
	n1 := createNode(t, c, "edge-1", a1, "10.99.0.0/24")
	n2 := createNode(t, c, "edge-2", a2, "10.98.0.0/24")
	if err := e.st.RecordNodeHealth(ctx, n2.ID, store.NodeOnline, nil, wgtypes.Key{}, "", true); err != nil {
		t.Fatal(err)
	}
	p1 := createPeer(t, c, n1.ID, map[string]any{"name": "laptop", "preshared_key": "auto"})
	p2 := createPeer(t, c, n1.ID, map[string]any{"name": "phone", "preshared_key": "auto"})
	createPeer(t, c, n2.ID, map[string]any{"name": "tablet"})

	var tok struct {
		ID    int64  `json:"id"`
		Token string `json:"token"`
	}
	c.do(t, "POST", "/api/tokens", map[string]string{"name": "ci"}).want(t, 201).decode(t, &tok)
	tc := e.anon()
	tc.headers[auth.APIKeyHeader] = tok.Token

	// Every kind of answer, from both kinds of caller.
	for _, cl := range []*client{c, tc} {
		for _, path := range []string{
			"/api/me", "/api/tokens", "/api/nodes", "/api/peers",
			fmt.Sprintf("/api/nodes/%d", n1.ID), fmt.Sprintf("/api/nodes/%d", n2.ID),
			fmt.Sprintf("/api/nodes/%d/peers", n1.ID), fmt.Sprintf("/api/nodes/%d/peers", n2.ID),
			fmt.Sprintf("/api/peers/%d", p1.ID), fmt.Sprintf("/api/peers/%d", p2.ID),
			fmt.Sprintf("/api/nodes/%d/drift", n1.ID), "/api/nodes/999", "/api/peers/999",
		} {
			cl.do(t, "GET", path, nil)
		}
	}
	c.do(t, "PUT", fmt.Sprintf("/api/nodes/%d", n1.ID), map[string]any{"secret": a1.Secret, "weight": 7}).want(t, 200)
	c.do(t, "PUT", fmt.Sprintf("/api/peers/%d", p1.ID), map[string]any{"name": "laptop 2"}).want(t, 200)
	c.do(t, "POST", fmt.Sprintf("/api/nodes/%d/toggle", n1.ID), nil).want(t, 200)
	c.do(t, "POST", fmt.Sprintf("/api/nodes/%d/toggle", n1.ID), nil).want(t, 200)
	c.do(t, "POST", fmt.Sprintf("/api/nodes/%d/test", n1.ID), nil).want(t, 200)
	c.do(t, "POST", "/api/nodes/test", map[string]string{"agent_url": a1.URL, "secret": a1.Secret}).want(t, 200)
	c.do(t, "POST", "/api/nodes/test", map[string]string{"agent_url": a1.URL, "secret": a2.Secret}).want(t, 200)
	c.do(t, "POST", fmt.Sprintf("/api/nodes/%d/reconcile", n1.ID), nil).want(t, 200)
	c.do(t, "POST", fmt.Sprintf("/api/peers/%d/restrict", p2.ID), nil).want(t, 200)
	c.do(t, "POST", fmt.Sprintf("/api/peers/%d/allow", p2.ID), nil).want(t, 200)
	c.do(t, "POST", fmt.Sprintf("/api/peers/%d/move", p2.ID), map[string]any{"node_id": n2.ID}).want(t, 200)
	c.do(t, "POST", fmt.Sprintf("/api/nodes/%d/drain", n1.ID), nil).want(t, 200)
	c.do(t, "POST", "/api/nodes", nodeBody("edge-1", a1, "10.99.0.0/24")).want(t, 409)
	// The audit log of all of the above, from both kinds of caller.
	for _, cl := range []*client{c, tc} {
		var page auditPage
		cl.do(t, "GET", "/api/audit?limit=500", nil).want(t, 200).decode(t, &page)
		if len(page.Entries) < 15 {
			t.Fatalf("the audit log holds only %d entries; the scan would prove little", len(page.Entries))
		}
	}

	// What must never show up.
	peers, err := e.st.ListAllPeers(ctx)
	if err != nil {
		t.Fatal(err)
	}
	secrets := map[string]string{
		"node 1 secret": a1.Secret, "node 2 secret": a2.Secret,
		"admin password": adminPassword, "api token": tok.Token,
	}
	for _, ck := range c.hc.Jar.Cookies(mustURL(t, e.srv.URL)) {
		secrets["session token"] = ck.Value
	}
	if secrets["session token"] == "" {
		t.Fatal("no session cookie to look for")
	}
	var keys int
	for _, p := range peers {
		if p.PrivateKey != nil {
			secrets[fmt.Sprintf("peer %d private key", p.ID)] = p.PrivateKey.String()
			secrets[fmt.Sprintf("peer %d private key (hex)", p.ID)] = hex.EncodeToString(p.PrivateKey[:])
			keys++
		}
		if p.PresharedKey != nil {
			secrets[fmt.Sprintf("peer %d preshared key", p.ID)] = p.PresharedKey.String()
			secrets[fmt.Sprintf("peer %d preshared key (hex)", p.ID)] = hex.EncodeToString(p.PresharedKey[:])
			keys++
		}
	}
	if keys < 5 {
		t.Fatalf("only %d keys stored; the scan would prove little", keys)
	}

	scanned := 0
	for _, cl := range []*client{c, tc} {
		for _, s := range cl.seen {
			scanned++
			for name, secret := range secrets {
				if name == "api token" && s.method == "POST" && s.path == "/api/tokens" {
					continue // the one answer that shows it
				}
				if strings.Contains(string(s.body), secret) {
					t.Errorf("%s %s answers the %s:\n%s", s.method, s.path, name, s.body)
				}
			}
		}
	}
	if scanned < 40 {
		t.Fatalf("scanned only %d answers", scanned)
	}

	// The config download is the exception, and it does hold the key (the
	// scan above would have caught it).
	moved, err := e.st.ListPeers(ctx, n2.ID)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range moved {
		r := c.do(t, "GET", fmt.Sprintf("/api/peers/%d/config", p.ID), nil).want(t, 200)
		if !strings.Contains(string(r.body), p.PrivateKey.String()) {
			t.Errorf("config of peer %d lacks its private key", p.ID)
		}
	}

	logs := e.logs.String()
	if !strings.Contains(logs, "principal=user:admin") {
		t.Fatalf("the log lacks request lines:\n%s", logs)
	}
	secrets["csrf token"] = c.headers["X-CSRF-Token"]
	for name, secret := range secrets {
		if strings.Contains(logs, secret) {
			t.Errorf("the log holds the %s", name)
		}
	}
}

func mustURL(t testing.TB, raw string) *url.URL {
	t.Helper()
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	return u
}
