package api

import (
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/wgfleet/wgfleet/agent/agenttest"
	"github.com/wgfleet/wgfleet/controller/fleet"
	"github.com/wgfleet/wgfleet/internal/testenv"
)

// TestPeerLifecycleFields: expires_at, data_limit_bytes and limit_action
// go in on create and edit and come back with status and usage_bytes; a
// bad one is 400 naming its field, nothing changed; reset-usage answers
// the peer, and 404 for a peer that does not exist.
func TestPeerLifecycleFields(t *testing.T) {
	e := newEnv(t, envOptions{})
	c := e.login(t)
	a := agenttest.Start(t, agenttest.Options{})
	n := createNode(t, c, "edge-l", a, "10.99.0.0/24")
	exp := time.Now().Add(48 * time.Hour).UTC().Truncate(time.Second)
	p := createPeer(t, c, n.ID, map[string]any{
		"name": "capped", "expires_at": exp.Format(time.RFC3339), "data_limit_bytes": 1 << 30, "limit_action": "delete",
	})
	testenv.Equal(t, "status", p.Status, "active")
	testenv.Equal(t, "expires_at", p.ExpiresAt != nil && p.ExpiresAt.Equal(exp), true)
	testenv.Equal(t, "data_limit_bytes", p.DataLimit != nil && *p.DataLimit == 1<<30, true)
	testenv.Equal(t, "limit_action", p.LimitAction, "delete")
	testenv.Equal(t, "usage_bytes", p.Usage, int64(0))

	for _, tc := range []struct {
		name  string
		body  map[string]any
		field string
	}{
		{"expiry not RFC 3339", map[string]any{"expires_at": "next tuesday"}, "expires_at"},
		{"negative limit", map[string]any{"data_limit_bytes": -5}, "data_limit_bytes"},
		{"unknown action", map[string]any{"limit_action": "throttle"}, "limit_action"},
	} {
		r := c.do(t, "PUT", fmt.Sprintf("/api/peers/%d", p.ID), tc.body).want(t, http.StatusBadRequest)
		testenv.Equal(t, tc.name+": field", r.field(), tc.field)
	}

	var got fleet.PeerView
	c.do(t, "PUT", fmt.Sprintf("/api/peers/%d", p.ID), map[string]any{"expires_at": nil, "data_limit_bytes": nil}).
		want(t, http.StatusOK).decode(t, &got)
	testenv.Equal(t, "expires_at after null", got.ExpiresAt == nil, true)
	testenv.Equal(t, "data_limit_bytes after null", got.DataLimit == nil, true)
	testenv.Equal(t, "limit_action kept", got.LimitAction, "delete")

	r := c.do(t, "POST", fmt.Sprintf("/api/peers/%d/reset-usage", p.ID), nil).want(t, http.StatusOK)
	testenv.Equal(t, "reset-usage message", r.msg(), "peer usage reset")
	c.do(t, "POST", "/api/peers/9999/reset-usage", nil).want(t, http.StatusNotFound)
}
