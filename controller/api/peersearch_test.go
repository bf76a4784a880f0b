package api

import (
	"context"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/wgfleet/wgfleet/agent/agenttest"
	"github.com/wgfleet/wgfleet/controller/fleet"
	"github.com/wgfleet/wgfleet/controller/store"
)

// TestSearchPeersEndpoint: GET /api/peers searches and filters across
// nodes and pages with a cursor; without parameters it is the old list.
func TestSearchPeersEndpoint(t *testing.T) {
	e := newEnv(t, envOptions{})
	c := e.login(t)
	ctx := context.Background()
	mk := func(name, pool, region string) fleet.NodeView {
		a := agenttest.Start(t, agenttest.Options{})
		body := nodeBody(name, a, pool)
		body["labels"] = map[string]string{"region": region}
		var n fleet.NodeView
		c.do(t, "POST", "/api/nodes", body).want(t, 201).decode(t, &n)
		return n
	}
	eu := mk("search-eu", "10.71.0.0/24", "eu")
	us := mk("search-us", "10.72.0.0/24", "us")
	laptop := createPeer(t, c, eu.ID, map[string]any{"name": "Alice-Laptop"})
	phone := createPeer(t, c, eu.ID, map[string]any{"name": "alice-phone"})
	bob := createPeer(t, c, us.ID, map[string]any{"name": "bob-laptop"})
	c.do(t, "POST", fmt.Sprintf("/api/peers/%d/restrict", phone.ID), nil).want(t, 200)
	if err := e.st.InTx(ctx, func(tx *store.Tx) error { return tx.SetPeerRestriction(ctx, bob.ID, store.RestrictExpired) }); err != nil {
		t.Fatal(err)
	}
	all := []fleet.PeerView{laptop, phone, bob}
	ids := func(ps []fleet.PeerView) []int64 {
		out := []int64{}
		for _, p := range ps {
			out = append(out, p.ID)
		}
		return out
	}

	// No parameter: the plain list, as before.
	var plain []fleet.PeerView
	c.do(t, "GET", "/api/peers", nil).want(t, 200).decode(t, &plain)
	if !slices.Equal(ids(plain), ids(all)) {
		t.Fatalf("plain list %v, want %v", ids(plain), ids(all))
	}

	search := func(t *testing.T, query string) peerPage {
		t.Helper()
		var pg peerPage
		c.do(t, "GET", "/api/peers?"+query, nil).want(t, 200).decode(t, &pg)
		return pg
	}
	tests := []struct {
		name, query string
		want        []fleet.PeerView
	}{
		{"empty q is every peer", "q=", all},
		{"name", "q=LAPTOP", []fleet.PeerView{laptop, bob}},
		{"address", "q=" + url.QueryEscape(phone.Address4), []fleet.PeerView{phone}},
		{"key", "q=" + url.QueryEscape(strings.ToLower(bob.PublicKey[2:18])), []fleet.PeerView{bob}},
		{"node", fmt.Sprintf("node_id=%d", us.ID), []fleet.PeerView{bob}},
		{"status active", "status=active", []fleet.PeerView{laptop}},
		{"status restricted", "status=restricted", []fleet.PeerView{phone}},
		{"status expired", "status=expired", []fleet.PeerView{bob}},
		{"status over_limit", "status=over_limit", nil},
		{"label", "label=region%3Deu", []fleet.PeerView{laptop, phone}},
		{"combined", "q=alice&label=region%3Deu&status=active", []fleet.PeerView{laptop}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pg := search(t, tt.query)
			if !slices.Equal(ids(pg.Peers), ids(tt.want)) || pg.NextCursor != nil {
				t.Fatalf("got %v next %v, want %v and no next", ids(pg.Peers), pg.NextCursor, ids(tt.want))
			}
		})
	}

	t.Run("page walk", func(t *testing.T) {
		var walked []int64
		query := "limit=1"
		for pages := 0; ; pages++ {
			if pages > len(all) {
				t.Fatal("the walk does not end")
			}
			pg := search(t, query)
			if len(pg.Peers) != 1 {
				t.Fatalf("page of %d peers, want 1", len(pg.Peers))
			}
			walked = append(walked, ids(pg.Peers)...)
			if pg.NextCursor == nil {
				break
			}
			query = "limit=1&cursor=" + url.QueryEscape(*pg.NextCursor)
		}
		if !slices.Equal(walked, ids(all)) {
			t.Fatalf("walk %v, want %v", walked, ids(all))
		}
	})

	bad := []struct{ query, param string }{
		{"node_id=x", "node_id"},
		{"node_id=-1", "node_id"},
		{"status=gone", "status"},
		{"label=region", "label"},
		{"limit=0", "limit"},
		{"limit=1001", "limit"},
		{"limit=ten", "limit"},
		{"cursor=%21%21", "cursor"},
		{"cursor=" + encodeCursor(0)[:2], "cursor"},
		{"q=" + strings.Repeat("a", maxPeerSearch+1), "q"},
	}
	for _, tt := range bad {
		t.Run("bad "+tt.query[:min(len(tt.query), 20)], func(t *testing.T) {
			r := c.do(t, "GET", "/api/peers?"+tt.query, nil).want(t, 400)
			if !strings.Contains(r.msg(), "query parameter "+tt.param) {
				t.Fatalf("message %q does not name %s", r.msg(), tt.param)
			}
		})
	}
}
