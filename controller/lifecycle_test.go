package controller_test

import (
	"context"
	"fmt"
	"net/http"
	"net/netip"
	"testing"
	"time"

	"golang.zx2c4.com/wireguard/wgctrl/wgtypes"

	"github.com/wgfleet/wgfleet/agent/agenttest"
	"github.com/wgfleet/wgfleet/controller/controllertest"
	"github.com/wgfleet/wgfleet/internal/testenv"
)

// lifePeer is a peer's lifecycle fields as the API shows them.
type lifePeer struct {
	ID         int64      `json:"id"`
	PublicKey  string     `json:"public_key"`
	Address4   string     `json:"address4"`
	AllowedIPs []string   `json:"allowed_ips"`
	Enabled    bool       `json:"enabled"`
	Status     string     `json:"status"`
	SyncState  string     `json:"sync_state"`
	ExpiresAt  *time.Time `json:"expires_at"`
	DataLimit  *int64     `json:"data_limit_bytes"`
	Action     string     `json:"limit_action"`
	Usage      int64      `json:"usage_bytes"`
}

func (h *harness) lifePeer(id int64) lifePeer {
	h.t.Helper()
	var p lifePeer
	if status, raw := h.call("GET", fmt.Sprintf("/api/peers/%d", id), nil, &p); status != http.StatusOK {
		h.t.Fatalf("get peer %d: %d %s", id, status, raw)
	}
	return p
}

// onAgent reports whether the agent's dump shows the key.
func onAgent(t *testing.T, a *agenttest.Agent, pub string) bool {
	t.Helper()
	d, err := a.Client(t).Dump(context.Background(), a.Iface)
	if err != nil {
		t.Fatalf("dump: %v", err)
	}
	for _, p := range d.Peers {
		if p.PublicKey == pub {
			return true
		}
	}
	return false
}

// settled waits until the peer has status and its sync state is applied,
// and the agent's dump shows it (or not) accordingly.
func settled(t *testing.T, h *harness, a *agenttest.Agent, p lifePeer, status string, wantOnAgent bool) lifePeer {
	t.Helper()
	var got lifePeer
	eventually(t, 20*time.Second, fmt.Sprintf("peer %d %s, applied, on the agent %v", p.ID, status, wantOnAgent), func() bool {
		got = h.lifePeer(p.ID)
		return got.Status == status && got.SyncState == "applied" && onAgent(t, a, p.PublicKey) == wantOnAgent
	})
	return got
}

// TestPeerExpiresAndComesBack: with a real agent, a peer whose
// expires_at passes (the controller's clock is advanced; nothing sleeps a
// minute) leaves the agent's dump with status expired, still in the
// database with its address; moved into the future it comes back.
func TestPeerExpiresAndComesBack(t *testing.T) {
	a := agenttest.Start(t, agenttest.Options{Addresses: nil})
	clock := testenv.NewClock(time.Now().UTC().Truncate(time.Second))
	// Polls an hour apart: the expiry is found by the limit ticker.
	h := startControllerWith(t, controllertest.Options{PollInterval: time.Hour, LimitInterval: 200 * time.Millisecond, Now: clock.Now})
	n := h.addNode("node-exp", a, "10.99.0.0/24")
	var p lifePeer
	exp := clock.Now().Add(time.Hour)
	if status, raw := h.call("POST", fmt.Sprintf("/api/nodes/%d/peers", n.ID),
		map[string]any{"name": "visitor", "expires_at": exp.Format(time.RFC3339)}, &p); status >= 300 {
		t.Fatalf("create peer: %d %s", status, raw)
	}
	if p.ExpiresAt == nil || !p.ExpiresAt.Equal(exp) || p.Status != "active" {
		t.Fatalf("created peer: expires_at %v status %q, want %v and active", p.ExpiresAt, p.Status, exp)
	}
	settled(t, h, a, p, "active", true)

	clock.Advance(time.Hour)
	got := settled(t, h, a, p, "expired", false)
	testenv.Equal(t, "enabled of the expired peer", got.Enabled, true)
	testenv.Equal(t, "address of the expired peer", got.Address4, p.Address4)

	future := clock.Now().Add(24 * time.Hour).Format(time.RFC3339)
	if status, raw := h.call("PUT", fmt.Sprintf("/api/peers/%d", p.ID), map[string]any{"expires_at": future}, &got); status != http.StatusOK {
		t.Fatalf("moving the expiry: %d %s", status, raw)
	}
	testenv.Equal(t, "status in the edit's answer", got.Status, "active")
	got = settled(t, h, a, p, "active", true)
	testenv.Equal(t, "address after coming back", got.Address4, p.Address4)
}

// TestPeerOverLimitByRealTraffic: a peer with a 64 KiB limit sends real
// WireGuard traffic through its node's agent until the controller sees its
// usage reach the limit; then it is off the agent (its traffic no longer
// passes) with status over_limit, and reset-usage brings it back.
func TestPeerOverLimitByRealTraffic(t *testing.T) {
	a := agenttest.Start(t, agenttest.Options{})
	h := startControllerWith(t, controllertest.Options{PollInterval: time.Second})
	n := h.addNode("node-lim", a, "10.99.0.0/24")
	key, err := wgtypes.GeneratePrivateKey()
	if err != nil {
		t.Fatal(err)
	}
	const limit = 64 << 10
	var p lifePeer
	if status, raw := h.call("POST", fmt.Sprintf("/api/nodes/%d/peers", n.ID), map[string]any{
		"name": "capped", "public_key": key.PublicKey().String(), "data_limit_bytes": limit,
	}, &p); status >= 300 {
		t.Fatalf("create peer: %d %s", status, raw)
	}
	if p.DataLimit == nil || *p.DataLimit != limit || p.Action != "restrict" {
		t.Fatalf("created peer: data_limit_bytes %v limit_action %q", p.DataLimit, p.Action)
	}
	settled(t, h, a, p, "active", true)
	addr := mustAddr(t, p.Address4)

	// Bounded: 16 KiB each way per exchange; the limit is 64 KiB in all.
	const chunk = 16 << 10
	sent := 0
	for {
		before := h.lifePeer(p.ID)
		if before.Status != "active" {
			break
		}
		if sent >= 40*chunk {
			t.Fatalf("sent %d bytes each way and the peer is still active (usage %d)", sent, before.Usage)
		}
		if err := a.Exchange(key, addr, chunk, 10*time.Second); err != nil {
			break // cut off mid-exchange: the status says why below
		}
		sent += chunk
		eventually(t, 10*time.Second, "a poll to count the exchange", func() bool {
			now := h.lifePeer(p.ID)
			return now.Usage > before.Usage || now.Status != "active"
		})
	}
	got := settled(t, h, a, p, "over_limit", false)
	if got.Usage < limit || got.Usage > int64(sent+chunk)*2+limit {
		t.Fatalf("usage %d after sending %d each way; want at least the limit %d", got.Usage, sent, limit)
	}
	if err := a.Exchange(key, addr, chunk, 3*time.Second); err == nil {
		t.Fatal("the peer over its limit still gets traffic through")
	}

	var reset lifePeer
	if status, raw := h.call("POST", fmt.Sprintf("/api/peers/%d/reset-usage", p.ID), nil, &reset); status != http.StatusOK {
		t.Fatalf("reset-usage: %d %s", status, raw)
	}
	testenv.Equal(t, "status after reset-usage", reset.Status, "active")
	testenv.Equal(t, "usage after reset-usage", reset.Usage, int64(0))
	settled(t, h, a, p, "active", true)
	if err := a.Exchange(key, addr, chunk, 20*time.Second); err != nil {
		t.Fatalf("after reset-usage: %v", err)
	}
}

// TestUsageSurvivesAgentRestart: the agent restarts with its peers and
// counters from zero; the usage keeps what was counted before and adds
// exactly what the new counters show: no double count, nothing negative.
func TestUsageSurvivesAgentRestart(t *testing.T) {
	a := agenttest.Start(t, agenttest.Options{})
	h := startControllerWith(t, controllertest.Options{PollInterval: time.Second})
	n := h.addNode("node-rst", a, "10.99.0.0/24")
	key, err := wgtypes.GeneratePrivateKey()
	if err != nil {
		t.Fatal(err)
	}
	var p lifePeer
	if status, raw := h.call("POST", fmt.Sprintf("/api/nodes/%d/peers", n.ID), map[string]any{
		"name": "steady", "public_key": key.PublicKey().String(), "data_limit_bytes": 1 << 30,
	}, &p); status >= 300 {
		t.Fatalf("create peer: %d %s", status, raw)
	}
	settled(t, h, a, p, "active", true)
	addr := mustAddr(t, p.Address4)

	counters := func(ag *agenttest.Agent) int64 {
		t.Helper()
		d, err := ag.Client(t).Dump(context.Background(), ag.Iface)
		if err != nil {
			t.Fatalf("dump: %v", err)
		}
		for _, dp := range d.Peers {
			if dp.PublicKey == p.PublicKey {
				return dp.TransferRx + dp.TransferTx
			}
		}
		t.Fatal("the peer is not on the agent")
		return 0
	}
	if err := a.Exchange(key, addr, 128<<10, 30*time.Second); err != nil {
		t.Fatal(err)
	}
	// The last acknowledgements may reach the agent after Exchange
	// returned: compare with the counters as they are at each look.
	var before, usage int64
	eventually(t, 20*time.Second, "the usage to match the agent's counters", func() bool {
		usage, before = h.lifePeer(p.ID).Usage, counters(a) // the usage first: it never runs ahead of the counters
		return usage == before
	})

	if err := a.Stop(); err != nil {
		t.Fatalf("stopping the agent: %v", err)
	}
	b := agenttest.Start(t, agenttest.Options{Addr: a.Addr, StateDir: a.StateDir, Secret: a.Secret})
	if err := b.Exchange(key, addr, 32<<10, 30*time.Second); err != nil {
		t.Fatal(err)
	}
	// Before the restart's traffic is counted and after more polls, the
	// usage is what was counted before plus the new counters: no double
	// count, never below what was counted before.
	matches := func() bool {
		u := h.lifePeer(p.ID).Usage
		after := counters(b)
		if after >= before {
			t.Fatalf("test broken: the counters did not start again (%d, then %d)", before, after)
		}
		if u < before || u > before+after {
			t.Fatalf("usage %d: outside %d..%d (double counted or gone back)", u, before, before+after)
		}
		return u == before+after
	}
	eventually(t, 20*time.Second, "the usage to add the new counters", matches)
	time.Sleep(1500 * time.Millisecond) // more polls
	eventually(t, 20*time.Second, "the usage to still match", matches)
}

func mustAddr(t *testing.T, s string) netip.Addr {
	t.Helper()
	a, err := netip.ParseAddr(s)
	if err != nil {
		t.Fatal(err)
	}
	return a
}
