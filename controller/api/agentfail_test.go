package api

import (
	"fmt"
	"net"
	"strings"
	"testing"
)

// TestConfigWithoutNodeKey: a client config needs the node's public key;
// with no health check stored and an agent that does not answer, /config
// and /qr are 502, as every other failure of an agent, and say what to do.
func TestConfigWithoutNodeKey(t *testing.T) {
	e := newEnv(t, envOptions{})
	c := e.login(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closedURL := "http://" + ln.Addr().String()
	ln.Close()
	body := map[string]any{
		"name": "silent", "agent_url": closedURL, "secret": strings.Repeat("s", 40), "wg_interface": "wg0",
		"endpoint": "vpn.example.com:51820", "ip_pool_cidr": "10.77.0.0/24",
	}
	var n struct{ ID int64 }
	c.do(t, "POST", "/api/nodes", body).want(t, 201).decode(t, &n)
	p := createPeer(t, c, n.ID, map[string]any{"name": "laptop"})
	host := strings.TrimPrefix(closedURL, "http://")
	for _, what := range []string{"config", "qr"} {
		r := c.do(t, "GET", fmt.Sprintf("/api/peers/%d/%s", p.ID, what), nil).want(t, 502)
		// It says what failed, in a few words, and what to do; no Go
		// error chain.
		for _, want := range []string{"Cannot reach the agent at " + host + " (connection refused)", "test the node"} {
			if !strings.Contains(r.msg(), want) {
				t.Errorf("/%s: message %q does not say %q", what, r.msg(), want)
			}
		}
		if strings.Contains(r.msg(), "dial tcp") {
			t.Errorf("/%s: message %q quotes the Go error", what, r.msg())
		}
	}
}
