// Package agenttest holds the agents that tests of other packages talk
// to. Start runs a real agent: a real wireguard-go device on a gVisor
// netstack (no privileges needed) behind the real signed API on a loopback
// HTTP server. StartFake runs the one fake of the agent boundary: an
// in-memory agent behind a real HTTP server that verifies signatures and
// answers like a real agent, with injectable faults (delay, error status,
// dropped connection, success claimed without applying), per-call
// counters, and dialects of other agents of the seed's family.
package agenttest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"testing"
	"time"

	"github.com/wgfleet/wgfleet/agent"
	"github.com/wgfleet/wgfleet/agent/agentapi"
	"github.com/wgfleet/wgfleet/container"
)

// Options shape a test agent. The zero value is one interface "wg0" with
// address 10.99.0.1/24 and a random UDP port.
type Options struct {
	Iface     string
	Addresses []netip.Prefix
	// StateDir keeps the agent's key and peers; "" uses a fresh temp dir.
	// Reuse one to restart an agent with its state.
	StateDir string
	// Addr is the API's listen address; "" picks a free loopback port.
	// Reuse one to restart an agent at the same URL.
	Addr   string
	Secret string
	Logger *slog.Logger
	// MetricsListen, when set, is the agent's metrics listener
	// ("127.0.0.1:0" picks a free port); "" runs none.
	MetricsListen string
	// TLS is how the API is served; the zero value is plain HTTP. With
	// agent.TLSAuto the certificate is kept in StateDir, so a restart with
	// the same StateDir serves the same one.
	TLS agent.TLSConfig
}

// Agent is a running test agent.
type Agent struct {
	*agent.Agent
	// URL is http:// or, with Options.TLS, https://.
	URL      string
	Addr     string
	Secret   string
	StateDir string
	Iface    string
	// Address is the interface's first address (10.99.0.1/24 unless
	// Options said otherwise): Exchange's service listens there.
	Address netip.Prefix
	// MetricsURL is the agent's GET /metrics URL; "" without
	// Options.MetricsListen.
	MetricsURL string

	cancel  context.CancelFunc
	done    chan error
	stopped bool
}

// Start runs an agent until the test ends (or Stop).
func Start(t testing.TB, o Options) *Agent {
	t.Helper()
	if o.Iface == "" {
		o.Iface = "wg0"
	}
	if len(o.Addresses) == 0 {
		o.Addresses = []netip.Prefix{netip.MustParsePrefix("10.99.0.1/24")}
	}
	if o.StateDir == "" {
		o.StateDir = t.TempDir()
	}
	if o.Secret == "" {
		o.Secret = RandomSecret()
	}
	if o.Addr == "" {
		o.Addr = "127.0.0.1:0"
	}
	ln, err := net.Listen("tcp", o.Addr)
	if err != nil {
		t.Fatalf("agenttest: listen %s: %v", o.Addr, err)
	}
	env := container.Environment{} // no TUN, no caps: auto picks netstack
	a, err := agent.New(agent.Config{
		Listen:        ln.Addr().String(),
		MetricsListen: o.MetricsListen,
		Secrets:       [][]byte{[]byte(o.Secret)},
		StateDir:      o.StateDir,
		Mode:          "netstack",
		Interfaces:    []agent.InterfaceConfig{{Name: o.Iface, Addresses: o.Addresses}},
		Logger:        o.Logger,
		Environment:   &env,
		TLS:           o.TLS,
	})
	if err != nil {
		ln.Close()
		t.Fatalf("agenttest: starting agent: %v", err)
	}
	scheme := "http://"
	if !a.TLSFingerprint().IsZero() {
		scheme = "https://"
	}
	ctx, cancel := context.WithCancel(context.Background())
	ta := &Agent{
		Agent: a, URL: scheme + ln.Addr().String(), Addr: ln.Addr().String(),
		Secret: o.Secret, StateDir: o.StateDir, Iface: o.Iface, Address: o.Addresses[0], cancel: cancel, done: make(chan error, 1),
	}
	if ma := a.MetricsAddr(); ma != nil {
		ta.MetricsURL = "http://" + ma.String() + "/metrics"
	}
	go func() { ta.done <- a.Serve(ctx, ln) }()
	t.Cleanup(func() {
		if err := ta.Stop(); err != nil {
			t.Errorf("agenttest: agent stopped with %v", err)
		}
	})
	return ta
}

// stopTimeout bounds how long Stop waits for Serve to return.
const stopTimeout = 30 * time.Second

// Stop shuts the agent down gracefully, waits, and returns what Serve
// returned (or that it did not return within 30 s); later calls return
// nil.
func (a *Agent) Stop() error {
	if a.stopped {
		return nil
	}
	a.stopped = true
	a.cancel()
	select {
	case err := <-a.done:
		return err
	case <-time.After(stopTimeout):
		return fmt.Errorf("agenttest: Serve did not return within %v of the shutdown", stopTimeout)
	}
}

// Client is a signed API client for this agent; over HTTPS it pins the
// agent's certificate.
func (a *Agent) Client(t testing.TB) *agentapi.Client {
	t.Helper()
	hc := testHTTPClient()
	if fp := a.TLSFingerprint(); !fp.IsZero() {
		tc, err := agentapi.PinnedTLSConfig(fp)
		if err != nil {
			t.Fatalf("agenttest: %v", err)
		}
		tr := http.DefaultTransport.(*http.Transport).Clone()
		tr.TLSClientConfig = tc
		t.Cleanup(tr.CloseIdleConnections)
		hc.Transport = tr
	}
	c, err := agentapi.NewClient(agentapi.ClientConfig{BaseURL: a.URL, Secret: []byte(a.Secret), HTTPClient: hc})
	if err != nil {
		t.Fatalf("agenttest: client: %v", err)
	}
	return c
}

// testHTTPClient is the tests' client to an agent: like the default one
// (no redirects) but with a timeout of a minute instead of
// agentapi.DefaultClientTimeout, because tests that send hundreds of
// requests at once under -race on a loaded two-core machine measure
// correctness, not latency; each test bounds itself with its context.
func testHTTPClient() *http.Client {
	return &http.Client{
		Timeout: time.Minute,
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
	}
}

// RandomSecret is a fresh 32-byte hex secret.
func RandomSecret() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
