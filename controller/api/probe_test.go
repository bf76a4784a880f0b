package api

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/wgfleet/wgfleet/agent/agenttest"
)

// TestConnectionTestIsNoProbe is issue 10 item 10: POST /api/nodes/test
// GETs whatever URL it is given, so it must not read web pages for its
// caller. A server that is not an agent is described (status and content
// type), never quoted; an agent's own {"error": ...} is still quoted.
func TestConnectionTestIsNoProbe(t *testing.T) {
	const secretText = "internal-only: db password hunter2"
	tests := []struct {
		name        string
		status      int
		contentType string
		body        string
		want        []string // in the message
	}{
		{"HTML page", http.StatusNotFound, "text/html; charset=utf-8",
			"<html><body><h1>Intranet</h1><p>" + secretText + "</p></body></html>",
			[]string{"not a wgfleet agent", "404", "text/html"}},
		{"plain text error", http.StatusInternalServerError, "text/plain",
			secretText, []string{"not a wgfleet agent", "500", "text/plain"}},
		{"JSON that is no agent error", http.StatusForbidden, "application/json",
			`{"message": "` + secretText + `"}`, []string{"not a wgfleet agent", "403", "application/json"}},
		{"no content type", http.StatusBadRequest, "",
			secretText, []string{"not a wgfleet agent", "400"}},
		{"agent-shaped error", http.StatusUnauthorized, "application/json",
			`{"error": "invalid signature"}`, []string{"invalid signature"}},
	}
	e := newEnv(t, envOptions{})
	c := e.login(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header()["Content-Type"] = []string{tt.contentType}
				if tt.contentType == "" {
					w.Header()["Content-Type"] = nil // no sniffing either
				}
				w.WriteHeader(tt.status)
				_, _ = w.Write([]byte(tt.body))
			}))
			defer srv.Close()
			r := c.do(t, "POST", "/api/nodes/test", map[string]string{"agent_url": srv.URL, "secret": agenttest.RandomSecret()}).want(t, 200)
			if r.env.Status {
				t.Fatalf("status true for %s", tt.name)
			}
			if strings.Contains(string(r.body), "hunter2") || strings.Contains(string(r.body), "Intranet") {
				t.Fatalf("the answer quotes the server's body: %s", r.body)
			}
			for _, w := range tt.want {
				if !strings.Contains(r.msg(), w) {
					t.Errorf("message %q lacks %q", r.msg(), w)
				}
			}
		})
	}
}
