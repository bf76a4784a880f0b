package api

import (
	"net"
	"strings"
	"testing"
)

// TestTestMessageAndDetail: a connection test of an agent that cannot be
// reached answers one sentence (address, reason) as its message and the
// Go error chain as the envelope's detail, apart.
func TestTestMessageAndDetail(t *testing.T) {
	e := newEnv(t, envOptions{})
	c := e.login(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	r := c.do(t, "POST", "/api/nodes/test", map[string]any{"agent_url": "http://" + addr, "secret": strings.Repeat("s", 32)}).want(t, 200)
	if r.env.Status || r.msg() != "Cannot reach the agent at "+addr+" (connection refused)" || !strings.Contains(r.detail(), "dial tcp") {
		t.Fatalf("status %v, message %q, detail %q", r.env.Status, r.msg(), r.detail())
	}
}
