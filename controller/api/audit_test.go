package api

import (
	"fmt"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/wgfleet/wgfleet/agent/agenttest"
	"github.com/wgfleet/wgfleet/controller/auth"
)

// TestAuditLogAPI: changes made through the API are listed newest first
// with their actor and target, the filters select, paging walks every
// entry once, and bad parameters are refused with a message naming them.
func TestAuditLogAPI(t *testing.T) {
	e := newEnv(t, envOptions{})
	c := e.login(t)
	a := agenttest.Start(t, agenttest.Options{})
	n := createNode(t, c, "audit-edge", a, "10.97.0.0/24")
	p1 := createPeer(t, c, n.ID, map[string]any{"name": "laptop"})
	p2 := createPeer(t, c, n.ID, map[string]any{"name": "phone"})
	c.do(t, "PUT", fmt.Sprintf("/api/peers/%d", p1.ID), map[string]any{"name": "laptop-2"}).want(t, 200)

	var tok struct {
		Token string `json:"token"`
	}
	c.do(t, "POST", "/api/tokens", map[string]string{"name": "ci"}).want(t, 201).decode(t, &tok)
	tc := e.anon()
	tc.headers[auth.APIKeyHeader] = tok.Token
	tc.do(t, "POST", fmt.Sprintf("/api/peers/%d/restrict", p2.ID), nil).want(t, 200)

	list := func(t *testing.T, cl *client, query string) auditPage {
		t.Helper()
		var page auditPage
		cl.do(t, "GET", "/api/audit"+query, nil).want(t, 200).decode(t, &page)
		return page
	}
	actions := func(page auditPage) string {
		var out []string
		for _, e := range page.Entries {
			out = append(out, e.Action+" "+e.TargetType+":"+e.TargetID+" by "+e.Actor)
		}
		return strings.Join(out, ", ")
	}

	all := list(t, c, "")
	if all.NextBefore != nil {
		t.Fatalf("one page holds everything, yet next_before = %d", *all.NextBefore)
	}
	want := fmt.Sprintf("peer.restrict peer:%d by token:ci", p2.ID)
	if len(all.Entries) == 0 || !strings.HasPrefix(actions(all), want) {
		t.Fatalf("newest entry is not %q: %s", want, actions(all))
	}
	for i := 1; i < len(all.Entries); i++ {
		if all.Entries[i].ID >= all.Entries[i-1].ID {
			t.Fatalf("not newest first: %s", actions(all))
		}
	}
	if e0 := all.Entries[0]; e0.At.IsZero() || time.Since(e0.At) > time.Minute || len(e0.Details) == 0 || e0.Details[0] != '{' {
		t.Fatalf("entry = %+v", e0)
	}

	tests := []struct {
		name, query, want string
	}{
		{"by target", fmt.Sprintf("?target=peer:%d", p1.ID),
			fmt.Sprintf("peer.update peer:%d by user:admin, peer.create peer:%d by user:admin", p1.ID, p1.ID)},
		{"by target type", "?target=node", fmt.Sprintf("node.create node:%d by user:admin", n.ID)},
		{"by actor", "?actor=token:ci", want},
		{"by actor and target", fmt.Sprintf("?actor=user:admin&target=peer:%d", p2.ID), fmt.Sprintf("peer.create peer:%d by user:admin", p2.ID)},
		{"since now", "?since=" + url.QueryEscape(time.Now().Add(time.Hour).UTC().Format(time.RFC3339)), ""},
		{"since long ago", "?actor=token:ci&since=2000-01-01T00:00:00%2B02:00", want},
		{"empty values select all", "?actor=&target=&since=", actions(all)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := actions(list(t, c, tt.query)); got != tt.want {
				t.Fatalf("GET /api/audit%s = %s\nwant %s", tt.query, got, tt.want)
			}
		})
	}

	t.Run("paging", func(t *testing.T) {
		var ids []int64
		query := "?limit=2"
		for pages := 0; ; pages++ {
			if pages > len(all.Entries) {
				t.Fatal("paging does not end")
			}
			page := list(t, tc, query)
			if len(page.Entries) > 2 || len(page.Entries) == 0 {
				t.Fatalf("page %d holds %d entries", pages, len(page.Entries))
			}
			for _, e := range page.Entries {
				ids = append(ids, e.ID)
			}
			if page.NextBefore == nil {
				break
			}
			if *page.NextBefore != page.Entries[len(page.Entries)-1].ID {
				t.Fatalf("next_before %d is not the page's last id", *page.NextBefore)
			}
			query = fmt.Sprintf("?limit=2&before=%d", *page.NextBefore)
		}
		var wantIDs []int64
		for _, e := range all.Entries {
			wantIDs = append(wantIDs, e.ID)
		}
		if fmt.Sprint(ids) != fmt.Sprint(wantIDs) {
			t.Fatalf("paged ids %v, want %v", ids, wantIDs)
		}
	})

	t.Run("bad input", func(t *testing.T) {
		before := e.counts(t)
		for _, tt := range []struct{ query, field, msg string }{
			{"?since=yesterday", "since", "RFC 3339"},
			{"?since=2026-11-29", "since", "RFC 3339"},
			{"?limit=0", "limit", "from 1 to 500"},
			{"?limit=501", "limit", "from 1 to 500"},
			{"?limit=ten", "limit", "from 1 to 500"},
			{"?before=-3", "before", "positive integer"},
			{"?before=x", "before", "positive integer"},
			{"?target=Peer:1", "target", "type or type:id"},
			{"?target=peer:", "target", "type or type:id"},
			{"?target=%27%3B--", "target", "type or type:id"},
			{"?actor=a&actor=b", "actor", "given once"},
			{"?actr=user:admin", "", `unknown query parameter "actr"`},
			{"?actor=" + strings.Repeat("x", 201), "actor", "longer than 200"},
		} {
			r := c.do(t, "GET", "/api/audit"+tt.query, nil).want(t, 400)
			if !strings.Contains(r.msg(), tt.msg) || r.field() != tt.field {
				t.Errorf("GET /api/audit%s: message %q field %q, want %q and field %q", tt.query, r.msg(), r.field(), tt.msg, tt.field)
			}
		}
		if after := e.counts(t); after != before {
			t.Fatalf("refused requests changed the store: %+v -> %+v", before, after)
		}
	})

	t.Run("needs a principal", func(t *testing.T) {
		e.anon().do(t, "GET", "/api/audit", nil).want(t, 401)
	})
}
