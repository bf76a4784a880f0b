package agent_test

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/wgfleet/wgfleet/agent"
	"github.com/wgfleet/wgfleet/agent/agentapi"
	"github.com/wgfleet/wgfleet/agent/agenttest"
	"github.com/wgfleet/wgfleet/container"
)

// startLimited runs an agent with the given connection and body bounds
// and returns its address and a signed client.
func startLimited(t *testing.T, maxConns int, budget int64) (string, *agentapi.Client) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	secret := agenttest.RandomSecret()
	env := container.Environment{}
	a, err := agent.New(agent.Config{
		Listen: ln.Addr().String(), Secrets: [][]byte{[]byte(secret)}, StateDir: t.TempDir(), Mode: "netstack",
		Interfaces:     []agent.InterfaceConfig{{Name: "wg0", Addresses: []netip.Prefix{netip.MustParsePrefix("10.99.0.1/24")}}},
		Environment:    &env,
		MaxConnections: maxConns, UnauthBodyBudget: budget,
	})
	if err != nil {
		ln.Close()
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Serve(ctx, ln) }()
	t.Cleanup(func() { cancel(); <-done })
	c, err := agentapi.NewClient(agentapi.ClientConfig{BaseURL: "http://" + ln.Addr().String(), Secret: []byte(secret)})
	if err != nil {
		t.Fatal(err)
	}
	return ln.Addr().String(), c
}

// rawPost opens a connection and sends the headers of a POST announcing
// a body of size bytes, and the first sent bytes of it only. sign adds a
// current timestamp and a well-formed but wrong signature.
func rawPost(t *testing.T, addr string, size, sent int, sign bool) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	var b strings.Builder
	fmt.Fprintf(&b, "POST /wg/wg0/peers HTTP/1.1\r\nHost: agent\r\nContent-Length: %d\r\n", size)
	if sign {
		fmt.Fprintf(&b, "%s: %d\r\n%s: %s\r\n", agentapi.HeaderTimestamp, time.Now().Unix(), agentapi.HeaderSignature, strings.Repeat("ab", 32))
	}
	b.WriteString("\r\n")
	b.WriteString(strings.Repeat("x", sent))
	if _, err := c.Write([]byte(b.String())); err != nil {
		t.Fatal(err)
	}
	return c
}

// answer reads the response on c, failing the test if none comes within
// limit (a bound against hanging, not a performance target).
func answer(t *testing.T, c net.Conn, limit time.Duration) *http.Response {
	t.Helper()
	_ = c.SetReadDeadline(time.Now().Add(limit))
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatalf("no answer: %v", err)
	}
	resp.Body.Close()
	return resp
}

// TestHeadersCheckedBeforeBody: a request without a signature, or with a
// stale one, is refused without waiting for its body: here the body never
// comes, and the answer does.
func TestHeadersCheckedBeforeBody(t *testing.T) {
	addr, _ := startLimited(t, 0, 0)
	c := rawPost(t, addr, 1<<20, 10, false)
	if resp := answer(t, c, 10*time.Second); resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("unsigned 1 MiB POST with 10 bytes sent: %d, want 401", resp.StatusCode)
	}
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	fmt.Fprintf(c, "POST /wg/wg0/peers HTTP/1.1\r\nHost: agent\r\nContent-Length: 1048576\r\n%s: %d\r\n%s: %s\r\n\r\nxx",
		agentapi.HeaderTimestamp, time.Now().Add(-time.Hour).Unix(), agentapi.HeaderSignature, strings.Repeat("ab", 32))
	if resp := answer(t, c, 10*time.Second); resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("stale POST: %d, want 401", resp.StatusCode)
	}
}

// TestUnauthenticatedBodyBudget: bodies whose signature is not checked
// yet share a budget (here 2 MiB). Two 1 MiB bodies that never finish
// arriving take it all: a third is refused with 503 and Retry-After, while
// signed requests (a GET, a small POST) are still answered. Once the slow
// bodies time out the budget is free again.
func TestUnauthenticatedBodyBudget(t *testing.T) {
	addr, client := startLimited(t, 0, 2<<20)
	held := []net.Conn{rawPost(t, addr, 1<<20, 1000, true), rawPost(t, addr, 1<<20, 1000, true)}
	time.Sleep(200 * time.Millisecond) // let both take their share
	third := rawPost(t, addr, 1<<20, 1000, true)
	resp := answer(t, third, 10*time.Second)
	if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" {
		t.Fatalf("third 1 MiB body over the budget: %d (Retry-After %q), want 503 with Retry-After", resp.StatusCode, resp.Header.Get("Retry-After"))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if _, err := client.Dump(ctx, "wg0"); err != nil {
		t.Fatalf("signed GET while the budget is taken: %v", err)
	}
	if _, err := client.AddPeer(ctx, "wg0", agentapi.AddPeerRequest{PublicKey: mustKey(t).String(), AllowedIPs: []string{"10.99.0.2/32"}}); err != nil {
		t.Fatalf("signed small POST while the budget is taken: %v", err)
	}
	for i, c := range held {
		if resp := answer(t, c, 20*time.Second); resp.StatusCode/100 != 4 {
			t.Fatalf("slow body %d: %d, want a 4xx once it timed out", i, resp.StatusCode)
		}
	}
	fourth := rawPost(t, addr, 1<<20, 1<<20, true)
	if resp := answer(t, fourth, 20*time.Second); resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("a whole 1 MiB body with a wrong signature once the budget is free: %d, want 401", resp.StatusCode)
	}
}

// TestMaxConnections: with the API's connections all taken, another
// connection is not served until one of them closes.
func TestMaxConnections(t *testing.T) {
	const max = 4
	addr, _ := startLimited(t, max, 0)
	var idle []net.Conn
	for i := 0; i < max; i++ {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		idle = append(idle, c)
	}
	time.Sleep(200 * time.Millisecond)  // accepted
	extra, err := net.Dial("tcp", addr) // the kernel queues it
	if err != nil {
		t.Fatal(err)
	}
	defer extra.Close()
	if _, err := fmt.Fprintf(extra, "GET /healthz HTTP/1.1\r\nHost: agent\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	_ = extra.SetReadDeadline(time.Now().Add(500 * time.Millisecond))
	br := bufio.NewReader(extra)
	if resp, err := http.ReadResponse(br, nil); err == nil {
		resp.Body.Close()
		t.Fatalf("connection %d served while %d were open: %d", max+1, max, resp.StatusCode)
	}
	idle[0].Close()
	_ = extra.SetReadDeadline(time.Now().Add(20 * time.Second))
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatalf("connection %d not served once one closed: %v", max+1, err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("healthz: %d", resp.StatusCode)
	}
}
