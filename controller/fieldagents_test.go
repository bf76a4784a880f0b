package controller_test

import (
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.zx2c4.com/wireguard/wgctrl/wgtypes"

	"github.com/wgfleet/wgfleet/agent/agentapi"
	"github.com/wgfleet/wgfleet/agent/agenttest"
	"github.com/wgfleet/wgfleet/controller/reconcile"
)

// heldPeer is a peer as an agent holds it.
type heldPeer struct {
	allowed   []string
	keepalive int
	psk       *wgtypes.Key
}

// fieldAgent is one agent the controller drives in TestFieldAgents.
type fieldAgent struct {
	url, secret, iface string
	// peers is what the agent holds, preshared keys included.
	peers func(t *testing.T) map[wgtypes.Key]heldPeer
	// stranger puts a peer on the agent behind the controller's back, or
	// changes the allowed IPs of one there.
	stranger func(t *testing.T, k wgtypes.Key, allowed string)
	// slashBlind: the agent cannot address keys containing '/'; pskStuck:
	// it can set a preshared key (by POST) but never remove one.
	slashBlind, pskStuck bool
}

func fakeField(t *testing.T, d agenttest.Dialect, slashBlind, pskStuck bool) fieldAgent {
	f := agenttest.StartFake(t, agenttest.FakeOptions{Dialect: d, Capabilities: []string{}})
	return fieldAgent{url: f.URL, secret: f.Secret, iface: "wg0", slashBlind: slashBlind, pskStuck: pskStuck,
		peers: func(t *testing.T) map[wgtypes.Key]heldPeer {
			out := map[wgtypes.Key]heldPeer{}
			for _, p := range f.Peers("wg0") {
				k := mustParseKey(t, p.PublicKey)
				h := heldPeer{allowed: p.AllowedIPs, keepalive: p.PersistentKeepalive}
				if psk, ok := f.PresharedKey("wg0", k); ok {
					h.psk = &psk
				}
				out[k] = h
			}
			return out
		},
		stranger: func(t *testing.T, k wgtypes.Key, allowed string) {
			f.Edit("wg0", func(peers map[wgtypes.Key]agentapi.Peer) {
				p, ok := peers[k]
				if !ok {
					p = agentapi.Peer{PublicKey: k.String()}
				}
				p.AllowedIPs = []string{allowed}
				peers[k] = p
			})
		},
	}
}

func realField(t *testing.T) fieldAgent {
	a := agenttest.Start(t, agenttest.Options{})
	return fieldAgent{url: a.URL, secret: a.Secret, iface: a.Iface,
		peers: func(t *testing.T) map[wgtypes.Key]heldPeer {
			ps, err := a.Tunnel(a.Iface).Peers()
			if err != nil {
				t.Fatal(err)
			}
			out := map[wgtypes.Key]heldPeer{}
			for _, p := range ps {
				h := heldPeer{keepalive: int(p.PersistentKeepaliveInterval / time.Second)}
				for _, ip := range p.AllowedIPs {
					h.allowed = append(h.allowed, ip.String())
				}
				if p.PresharedKey != (wgtypes.Key{}) {
					psk := p.PresharedKey
					h.psk = &psk
				}
				out[p.PublicKey] = h
			}
			return out
		},
		stranger: func(t *testing.T, k wgtypes.Key, allowed string) {
			c := a.Client(t)
			ips := []string{allowed}
			err := c.UpdatePeer(t.Context(), a.Iface, k, agentapi.UpdatePeerRequest{AllowedIPs: &ips})
			if errors.Is(err, agentapi.ErrNotFound) {
				_, err = c.AddPeer(t.Context(), a.Iface, agentapi.AddPeerRequest{PublicKey: k.String(), AllowedIPs: ips})
			}
			if err != nil {
				t.Fatal(err)
			}
		},
	}
}

// keyWith returns a fresh public key that contains '/' or does not.
func keyWith(t *testing.T, slash bool) wgtypes.Key {
	t.Helper()
	for {
		k, err := wgtypes.GeneratePrivateKey()
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(k.PublicKey().String(), "/") == slash {
			return k.PublicKey()
		}
	}
}

type fieldPeer struct {
	ID              int64    `json:"id"`
	PublicKey       string   `json:"public_key"`
	AllowedIPs      []string `json:"allowed_ips"`
	Keepalive       int      `json:"persistent_keepalive"` // the client config's
	NodeKeepalive   int      `json:"node_keepalive"`       // the agent's
	HasPresharedKey bool     `json:"has_preshared_key"`
	SyncState       string   `json:"sync_state"`
	SyncError       string   `json:"sync_error"`
}

// TestFieldAgents: the controller drives the seed's reference agent, its
// production agent (agenttest's dialects of them) and our real agent
// through create, update (allowed IPs, keepalive, preshared key), delete,
// drift and repair, with keys with and without '/', and what it reports
// matches what the agent then holds (issue 11).
func TestFieldAgents(t *testing.T) {
	tests := []struct {
		name  string
		start func(t *testing.T) fieldAgent
		paths string
	}{
		{"reference agent", func(t *testing.T) fieldAgent { return fakeField(t, agenttest.ReferenceAgent(), true, true) }, "bare"},
		{"production agent", func(t *testing.T) fieldAgent { return fakeField(t, agenttest.ProductionAgent(), false, false) }, "v1"},
		{"our agent", realField, "bare"},
	}
	for n, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ag := tt.start(t)
			h := startControllerPolling(t, "", time.Hour)
			pool := fmt.Sprintf("10.%d.0.0/24", 60+n)
			var node nodeJSON
			if status, raw := h.call("POST", "/api/nodes", map[string]any{
				"name": "field", "agent_url": ag.url, "secret": ag.secret, "wg_interface": ag.iface,
				"endpoint": "127.0.0.1:51820", "ip_pool_cidr": pool, "enabled": true,
			}, &node); status >= 300 {
				t.Fatalf("create node: %d %s", status, raw)
			}
			var nv struct {
				Status   string `json:"status"`
				APIPaths string `json:"api_paths"`
			}
			eventually(t, 10*time.Second, "the node online", func() bool {
				h.call("GET", fmt.Sprintf("/api/nodes/%d", node.ID), nil, &nv)
				return nv.Status == "online" && nv.APIPaths != ""
			})
			if nv.APIPaths != tt.paths {
				t.Errorf("api_paths %q, want %q", nv.APIPaths, tt.paths)
			}

			getPeer := func(id int64) fieldPeer {
				var p fieldPeer
				if status, raw := h.call("GET", fmt.Sprintf("/api/peers/%d", id), nil, &p); status != http.StatusOK {
					t.Fatalf("get peer %d: %d %s", id, status, raw)
				}
				return p
			}
			reconcileNow := func() reconcile.Result {
				var res reconcile.Result
				if status, raw := h.call("POST", fmt.Sprintf("/api/nodes/%d/reconcile", node.ID), nil, &res); status != http.StatusOK {
					t.Fatalf("reconcile: %d %s", status, raw)
				}
				return res
			}
			// holds checks that the agent holds p as the controller says.
			holds := func(p fieldPeer, what string) {
				t.Helper()
				held, ok := ag.peers(t)[mustParseKey(t, p.PublicKey)]
				if !ok {
					t.Fatalf("%s: the agent does not hold peer %s", what, p.PublicKey)
				}
				if !slices.Equal(held.allowed, p.AllowedIPs) || held.keepalive != p.NodeKeepalive || (held.psk != nil) != p.HasPresharedKey {
					t.Fatalf("%s: agent holds allowed %v keepalive %d psk %v; controller says %v, %d, psk %v",
						what, held.allowed, held.keepalive, held.psk != nil, p.AllowedIPs, p.NodeKeepalive, p.HasPresharedKey)
				}
			}

			// Create: one key with '/', one without, with a preshared key
			// and a node side keepalive.
			var peers [2]fieldPeer
			for i, slash := range []bool{true, false} {
				k := keyWith(t, slash).String()
				if status, raw := h.call("POST", fmt.Sprintf("/api/nodes/%d/peers", node.ID), map[string]any{
					"name": fmt.Sprint("p", i), "public_key": k, "preshared_key": "auto", "node_keepalive": 25,
				}, &peers[i]); status >= 300 {
					t.Fatalf("create peer: %d %s", status, raw)
				}
			}
			res := reconcileNow()
			for i := range peers {
				peers[i] = getPeer(peers[i].ID)
				if peers[i].SyncState != "applied" {
					t.Fatalf("created peer %d: sync_state %q (%s), want applied; result %+v", i, peers[i].SyncState, peers[i].SyncError, res)
				}
				holds(peers[i], "after create")
			}

			// Update keepalive and preshared key (a new one) of both, and
			// their allowed IPs on the agent behind our back (allowed IPs
			// are the peer's address, which the API does not change):
			// the repair puts them back.
			for i := range peers {
				ag.stranger(t, mustParseKey(t, peers[i].PublicKey), fmt.Sprintf("10.%d.0.%d/32", 60+n, 100+i))
				if status, raw := h.call("PUT", fmt.Sprintf("/api/peers/%d", peers[i].ID), map[string]any{
					"node_keepalive": 10, "preshared_key": "auto",
				}, nil); status != http.StatusOK {
					t.Fatalf("update peer: %d %s", status, raw)
				}
			}
			res = reconcileNow()
			for i := range peers {
				peers[i] = getPeer(peers[i].ID)
				if peers[i].SyncState != "applied" || peers[i].NodeKeepalive != 10 {
					t.Fatalf("updated peer %d: %+v; result %+v", i, peers[i], res)
				}
				holds(peers[i], "after update")
			}
			pskBefore := ag.peers(t)[mustParseKey(t, peers[0].PublicKey)].psk

			// Remove the preshared key of the peer without '/'.
			if status, raw := h.call("PUT", fmt.Sprintf("/api/peers/%d", peers[1].ID), map[string]any{"preshared_key": ""}, nil); status != http.StatusOK {
				t.Fatalf("remove psk: %d %s", status, raw)
			}
			res = reconcileNow()
			p1 := getPeer(peers[1].ID)
			held := ag.peers(t)[mustParseKey(t, p1.PublicKey)]
			if ag.pskStuck {
				// The agent cannot: the controller says so and does not
				// call it applied.
				if p1.SyncState != "error" || !strings.Contains(p1.SyncError, reconcile.ReasonPSKRemove) || held.psk == nil || res.Acked {
					t.Fatalf("psk removal on an agent that cannot: peer %+v, agent psk %v, result acked %v", p1, held.psk != nil, res.Acked)
				}
			} else {
				if p1.SyncState != "applied" || held.psk != nil {
					t.Fatalf("psk removal: peer %+v, agent still holds a psk: %v", p1, held.psk != nil)
				}
			}
			if got := ag.peers(t)[mustParseKey(t, peers[0].PublicKey)].psk; got == nil || pskBefore == nil || *got != *pskBefore {
				t.Fatal("the other peer's preshared key changed")
			}

			// Drift: two strangers, one key with '/', one without; the
			// peer without '/' loses its keepalive behind our back.
			s1, s2 := keyWith(t, true), keyWith(t, false)
			ag.stranger(t, s1, fmt.Sprintf("10.%d.0.200/32", 60+n))
			ag.stranger(t, s2, fmt.Sprintf("10.%d.0.201/32", 60+n))
			res = reconcileNow()
			after := ag.peers(t)
			_, has1 := after[s1]
			_, has2 := after[s2]
			if has2 {
				t.Fatal("a stranger without '/' is still on the agent after the repair")
			}
			if ag.slashBlind {
				if !has1 || res.DriftCurrent != 1 || len(res.DriftAfter) == 0 {
					t.Fatalf("slash stranger: on agent %v, drift_current %d, drift_after %+v: want it there and counted", has1, res.DriftCurrent, res.DriftAfter)
				}
				found := false
				for _, d := range res.DriftAfter {
					if d.PublicKey == s1.String() && d.Kind == reconcile.DriftUnknown && d.Reason == reconcile.ReasonSlashKey {
						found = true
					}
				}
				if !found {
					t.Fatalf("drift_after %+v: want the '/' stranger with the reason", res.DriftAfter)
				}
				var drift []reconcile.Drift
				h.call("GET", fmt.Sprintf("/api/nodes/%d/drift", node.ID), nil, &drift)
				if !slices.ContainsFunc(drift, func(d reconcile.Drift) bool {
					return d.PublicKey == s1.String() && d.Reason == reconcile.ReasonSlashKey
				}) {
					t.Fatalf("drift endpoint %+v: want the '/' stranger with the reason", drift)
				}
			} else if has1 || res.DriftCurrent != 0 {
				t.Fatalf("stranger with '/' on the agent %v, drift_current %d after the repair", has1, res.DriftCurrent)
			}

			// Delete both peers.
			for _, p := range peers {
				if status, raw := h.call("DELETE", fmt.Sprintf("/api/peers/%d", p.ID), nil, nil); status != http.StatusOK {
					t.Fatalf("delete peer: %d %s", status, raw)
				}
			}
			res = reconcileNow()
			after = ag.peers(t)
			_, has0 := after[mustParseKey(t, peers[0].PublicKey)]
			_, hasP1 := after[mustParseKey(t, peers[1].PublicKey)]
			if hasP1 {
				t.Fatal("deleted peer without '/' still on the agent")
			}
			if ag.slashBlind != has0 {
				t.Fatalf("deleted peer with '/': on the agent %v, want %v", has0, ag.slashBlind)
			}
			if ag.slashBlind {
				// Still there, so not reported removed: it stays visible
				// with the reason.
				if !slices.ContainsFunc(res.DriftAfter, func(d reconcile.Drift) bool {
					return d.PublicKey == peers[0].PublicKey && d.Reason == reconcile.ReasonSlashKey
				}) {
					t.Fatalf("drift_after %+v: want the undeletable peer with the reason", res.DriftAfter)
				}
			}
		})
	}
}

// TestProductionAgentRefusalInWords: a body the production agent does not
// validate is answered 422 {"detail": [...]}, FastAPI's validation error;
// the controller keeps its words on the peer (issue 11), where it used to
// say only that something that is not an agent answered.
func TestProductionAgentRefusalInWords(t *testing.T) {
	f := agenttest.StartFake(t, agenttest.FakeOptions{Dialect: agenttest.ProductionAgent(), Capabilities: []string{}})
	h := startControllerPolling(t, "", time.Hour)
	var node nodeJSON
	if status, raw := h.call("POST", "/api/nodes", map[string]any{
		"name": "fastapi", "agent_url": f.URL, "secret": f.Secret, "wg_interface": "wg0",
		"endpoint": "127.0.0.1:51820", "ip_pool_cidr": "10.70.0.0/24", "enabled": true,
	}, &node); status >= 300 {
		t.Fatalf("create node: %d %s", status, raw)
	}
	eventually(t, 10*time.Second, "the node online on /v1", func() bool {
		var nv struct {
			Status   string `json:"status"`
			APIPaths string `json:"api_paths"`
		}
		h.call("GET", fmt.Sprintf("/api/nodes/%d", node.ID), nil, &nv)
		return nv.Status == "online" && nv.APIPaths == "v1"
	})

	f.Inject(agenttest.OpAddPeer, agenttest.Fault{Status: http.StatusUnprocessableEntity, Raw: true,
		Header: http.Header{"Content-Type": {"application/json"}},
		Body:   `{"detail":[{"loc":["body","allowed_ips"],"msg":"field required","type":"value_error.missing"}]}`})
	var p fieldPeer
	if status, raw := h.call("POST", fmt.Sprintf("/api/nodes/%d/peers", node.ID), map[string]any{"name": "laptop"}, &p); status >= 300 {
		t.Fatalf("create peer: %d %s", status, raw)
	}
	if status, raw := h.call("POST", fmt.Sprintf("/api/nodes/%d/reconcile", node.ID), nil, nil); status != http.StatusOK {
		t.Fatalf("reconcile: %d %s", status, raw)
	}
	if f.Calls(agenttest.OpAddPeer) == 0 {
		t.Fatal("test broken: the controller never sent the peer")
	}
	eventually(t, 10*time.Second, "the agent's refusal on the peer", func() bool {
		h.call("GET", fmt.Sprintf("/api/peers/%d", p.ID), nil, &p)
		return p.SyncState == "error"
	})
	const want = "422 Unprocessable Entity: body.allowed_ips: field required"
	if !strings.Contains(p.SyncError, want) || strings.Contains(p.SyncError, "not a wgfleet agent") {
		t.Fatalf("sync_error %q, want it to hold %q", p.SyncError, want)
	}
}
