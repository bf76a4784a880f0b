package agent_test

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/wgfleet/wgfleet/agent"
	"github.com/wgfleet/wgfleet/agent/agentapi"
	"github.com/wgfleet/wgfleet/agent/agenttest"
	"github.com/wgfleet/wgfleet/container"
)

// captured is a signed request as an eavesdropper saw it on the wire: it
// can be sent again, byte for byte.
type captured struct {
	method, path string
	body         []byte
	header       http.Header
}

func capture(secret, method, path string, body []byte, withNonce bool) captured {
	ts := strconv.FormatInt(time.Now().Unix(), 10)
	nonce := ""
	if withNonce {
		nonce = agenttest.RandomSecret()[:32]
	}
	h := http.Header{}
	h.Set(agentapi.HeaderTimestamp, ts)
	if nonce != "" {
		h.Set(agentapi.HeaderNonce, nonce)
	}
	h.Set(agentapi.HeaderSignature, agentapi.Sign([]byte(secret), method, path, body, ts, nonce))
	return captured{method: method, path: path, body: body, header: h}
}

func (c captured) send(t *testing.T, baseURL string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(c.method, baseURL, bytes.NewReader(c.body))
	if err != nil {
		t.Fatal(err)
	}
	req.URL.Opaque = c.path
	if len(c.body) == 0 {
		req.Body, req.ContentLength = nil, 0
	}
	req.Header = c.header.Clone()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", c.method, c.path, err)
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(out)
}

// replayScript is what an attacker captured: a POST without a nonce and a
// DELETE with one of peer A, a POST with a nonce and a DELETE without one
// of peer B. accept sends them once, as the controller did; replay sends
// them again and checks each is refused as a replay, not merely 404/409.
type replayScript struct{ reqs []captured }

func newReplayScript(t *testing.T, secret string) replayScript {
	a, b := mustKey(t), mustKey(t)
	post := func(k string, ip string, nonce bool) captured {
		return capture(secret, "POST", "/wg/wg0/peers", []byte(`{"public_key":"`+k+`","allowed_ips":["`+ip+`"]}`), nonce)
	}
	return replayScript{reqs: []captured{
		post(a.String(), "10.99.0.2/32", false),
		capture(secret, "DELETE", "/wg/wg0/peers/"+agentapi.EscapeKey(a), nil, true),
		post(b.String(), "10.99.0.3/32", true),
		capture(secret, "DELETE", "/wg/wg0/peers/"+agentapi.EscapeKey(b), nil, false),
	}}
}

func (s replayScript) accept(t *testing.T, baseURL string) {
	t.Helper()
	for _, c := range s.reqs {
		if status, out := c.send(t, baseURL); status/100 != 2 {
			t.Fatalf("%s %s the first time: %d %s", c.method, c.path, status, out)
		}
	}
}

func (s replayScript) replay(t *testing.T, baseURL string) {
	t.Helper()
	for _, c := range s.reqs {
		status, out := c.send(t, baseURL)
		if status != http.StatusUnauthorized || !(strings.Contains(out, agentapi.ReasonReplayed) || strings.Contains(out, agentapi.ReasonNonceReused)) {
			t.Errorf("replayed %s %s (nonce %t) after restart: %d %s, want 401 replayed", c.method, c.path, c.header.Get(agentapi.HeaderNonce) != "", status, out)
		}
	}
}

// TestReplayRefusedAfterRestart: requests accepted before a graceful
// restart are refused as replays after it, inside their window.
func TestReplayRefusedAfterRestart(t *testing.T) {
	dir := t.TempDir()
	a := agenttest.Start(t, agenttest.Options{StateDir: dir})
	s := newReplayScript(t, a.Secret)
	s.accept(t, a.URL)
	a.Stop()
	b := agenttest.Start(t, agenttest.Options{StateDir: dir, Secret: a.Secret, Addr: a.Addr})
	s.replay(t, b.URL)
	if n := len(dumpOf(t, b).Peers); n != 0 {
		t.Fatalf("replays re-added %d peers", n)
	}
}

// TestReplayRefusedAfterKill9: the same with the agent killed by SIGKILL
// right after it answered, in a process of its own (this test binary run
// as a helper), so nothing ran at exit.
func TestReplayRefusedAfterKill9(t *testing.T) {
	if testing.Short() {
		t.Skip("runs agents in subprocesses")
	}
	dir := t.TempDir()
	secret := agenttest.RandomSecret()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()

	first := startHelperAgent(t, dir, secret, addr)
	s := newReplayScript(t, secret)
	s.accept(t, "http://"+addr)
	if err := first.Process.Kill(); err != nil { // SIGKILL
		t.Fatal(err)
	}
	_ = first.Wait()

	second := startHelperAgent(t, dir, secret, addr)
	defer func() { _ = second.Process.Kill(); _ = second.Wait() }()
	s.replay(t, "http://"+addr)
	c, err := agentapi.NewClient(agentapi.ClientConfig{BaseURL: "http://" + addr, Secret: []byte(secret)})
	if err != nil {
		t.Fatal(err)
	}
	d, err := c.Dump(context.Background(), "wg0")
	if err != nil {
		t.Fatal(err)
	}
	if len(d.Peers) != 0 {
		t.Fatalf("replays re-added %d peers", len(d.Peers))
	}
}

// startHelperAgent runs TestHelperAgent in a child process serving an
// agent on addr with dir as its state, and waits until it answers.
func startHelperAgent(t testing.TB, dir, secret, addr string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperAgent$")
	cmd.Env = append(os.Environ(), "WGFLEET_HELPER_AGENT_DIR="+dir, "WGFLEET_HELPER_AGENT_SECRET="+secret, "WGFLEET_HELPER_AGENT_ADDR="+addr)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	ready := make(chan error, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			if strings.Contains(sc.Text(), "HELPER-READY") {
				ready <- nil
				_, _ = io.Copy(io.Discard, stderr)
				return
			}
		}
		ready <- fmt.Errorf("helper agent exited before it was ready")
	}()
	select {
	case err := <-ready:
		if err != nil {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
			t.Fatal(err)
		}
	case <-time.After(60 * time.Second):
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		t.Fatal("helper agent did not start")
	}
	return cmd
}

// TestHelperAgent is not a test: run by startHelperAgent, it serves an
// agent until it is killed.
func TestHelperAgent(t *testing.T) {
	dir := os.Getenv("WGFLEET_HELPER_AGENT_DIR")
	if dir == "" {
		t.Skip("helper process only")
	}
	env := container.Environment{}
	a, err := agent.New(agent.Config{
		Listen: os.Getenv("WGFLEET_HELPER_AGENT_ADDR"), Secrets: [][]byte{[]byte(os.Getenv("WGFLEET_HELPER_AGENT_SECRET"))},
		StateDir: dir, Mode: "netstack", Environment: &env,
		Interfaces: []agent.InterfaceConfig{{Name: "wg0", Addresses: []netip.Prefix{netip.MustParsePrefix("10.99.0.1/24")}}},
	})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", os.Getenv("WGFLEET_HELPER_AGENT_ADDR"))
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintln(os.Stderr, "HELPER-READY")
	_ = a.Serve(context.Background(), ln) // until SIGKILL
}
