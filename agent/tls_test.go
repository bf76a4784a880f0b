package agent_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/wgfleet/wgfleet/agent"
	"github.com/wgfleet/wgfleet/agent/agentapi"
	"github.com/wgfleet/wgfleet/agent/agenttest"
	"github.com/wgfleet/wgfleet/internal/testenv"
)

func TestParseTLS(t *testing.T) {
	tests := []struct {
		in   string
		want agent.TLSConfig
		bad  bool
	}{
		{in: "", want: agent.TLSConfig{Mode: agent.TLSOff}},
		{in: "off", want: agent.TLSConfig{Mode: agent.TLSOff}},
		{in: "auto", want: agent.TLSConfig{Mode: agent.TLSAuto}},
		{in: "/etc/a.crt,/etc/a.key", want: agent.TLSConfig{Mode: agent.TLSFiles, CertFile: "/etc/a.crt", KeyFile: "/etc/a.key"}},
		{in: "on", bad: true},
		{in: "AUTO", bad: true},
		{in: "/etc/a.crt", bad: true},
		{in: "/etc/a.crt,", bad: true},
		{in: ",/etc/a.key", bad: true},
		{in: "a,b,c", bad: true},
	}
	for _, tt := range tests {
		got, err := agent.ParseTLS(tt.in)
		if tt.bad {
			if err == nil {
				t.Errorf("ParseTLS(%q) = %+v, want an error", tt.in, got)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("ParseTLS(%q) = %+v, %v; want %+v", tt.in, got, err, tt.want)
			continue
		}
		if back, err := agent.ParseTLS(got.String()); err != nil || back != got {
			t.Errorf("ParseTLS(%q).String() = %q does not round-trip: %+v, %v", tt.in, got.String(), back, err)
		}
	}
}

// TestAgentServesTLS: with --tls auto the agent serves HTTPS with the
// certificate of its state directory, logs its fingerprint, answers a
// client that pins it (signing still on), refuses plain HTTP, and keeps
// the certificate across a restart. A client pinning another fingerprint
// is refused before sending anything.
func TestAgentServesTLS(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	var logs testenv.LogBuffer
	a := agenttest.Start(t, agenttest.Options{
		StateDir: dir, TLS: agent.TLSConfig{Mode: agent.TLSAuto},
		Logger: slog.New(slog.NewTextHandler(&logs, nil)),
	})
	fp := a.TLSFingerprint()
	if fp.IsZero() || !strings.HasPrefix(a.URL, "https://") {
		t.Fatalf("agent URL %s, fingerprint %v: want https and a fingerprint", a.URL, fp)
	}
	_, onDisk, err := agent.EnsureSelfSignedCert(dir)
	if err != nil || onDisk != fp {
		t.Fatalf("certificate in the state dir: %v, %v; the agent serves %v", onDisk, err, fp)
	}

	c := a.Client(t)
	if _, err := c.AddPeer(ctx, "wg0", agentapi.AddPeerRequest{PublicKey: mustKey(t).String(), AllowedIPs: []string{"10.99.0.2/32"}}); err != nil {
		t.Fatalf("adding a peer over pinned TLS: %v", err)
	}
	// Logged before serving, so before the answer above.
	if !strings.Contains(logs.String(), "tls_fingerprint="+fp.String()) {
		t.Fatalf("the agent did not log its fingerprint:\n%s", logs.String())
	}

	// Signing stays on inside TLS.
	unsigned, err := agentapi.NewClient(agentapi.ClientConfig{BaseURL: a.URL, Secret: []byte("another-secret-of-32-characters!!"), HTTPClient: pinnedHTTP(t, fp)})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := unsigned.Dump(ctx, "wg0"); !errors.Is(err, agentapi.ErrUnauthorized) {
		t.Fatalf("wrong secret over TLS: %v, want ErrUnauthorized", err)
	}

	// Plain HTTP to the TLS port gets no API answer.
	resp, err := http.Get("http://" + a.Addr + "/healthz")
	if err == nil {
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode == http.StatusOK {
			t.Fatalf("plain HTTP to the TLS port answered 200: %s", body)
		}
	}

	// Another pin: refused in the handshake, with both fingerprints.
	other := agentapi.FingerprintOf([]byte("another certificate"))
	wrong, err := agentapi.NewClient(agentapi.ClientConfig{BaseURL: a.URL, Secret: []byte(a.Secret), HTTPClient: pinnedHTTP(t, other)})
	if err != nil {
		t.Fatal(err)
	}
	_, err = wrong.Health(ctx)
	var pinErr *agentapi.PinMismatchError
	if !errors.As(err, &pinErr) || pinErr.Pinned != other || pinErr.Presented != fp {
		t.Fatalf("client pinning another certificate: %v; want a PinMismatchError naming both", err)
	}
	if !strings.Contains(err.Error(), other.Short()) || !strings.Contains(err.Error(), fp.Short()) {
		t.Fatalf("mismatch error %q does not name both fingerprints", err)
	}

	if err := a.Stop(); err != nil {
		t.Fatal(err)
	}
	b := agenttest.Start(t, agenttest.Options{StateDir: dir, Secret: a.Secret, TLS: agent.TLSConfig{Mode: agent.TLSAuto}})
	if b.TLSFingerprint() != fp {
		t.Fatalf("fingerprint after restart %v, want %v", b.TLSFingerprint(), fp)
	}
	if d, err := b.Client(t).Dump(ctx, "wg0"); err != nil || len(d.Peers) != 1 {
		t.Fatalf("after restart over pinned TLS: %d peers, %v; want 1", len(d.Peers), err)
	}
}

// TestAgentServesTLSFiles: --tls CERT,KEY serves the given pair; a pair
// that does not load stops the agent from starting.
func TestAgentServesTLSFiles(t *testing.T) {
	certDir := t.TempDir()
	_, fp, err := agent.EnsureSelfSignedCert(certDir)
	if err != nil {
		t.Fatal(err)
	}
	files := agent.TLSConfig{Mode: agent.TLSFiles, CertFile: filepath.Join(certDir, agent.TLSCertFile), KeyFile: filepath.Join(certDir, agent.TLSKeyFile)}
	a := agenttest.Start(t, agenttest.Options{TLS: files})
	if a.TLSFingerprint() != fp {
		t.Fatalf("serving %v, want the given certificate's %v", a.TLSFingerprint(), fp)
	}
	if _, err := a.Client(t).Health(context.Background()); err != nil {
		t.Fatal(err)
	}

	cfg := validConfig()
	cfg.StateDir = t.TempDir()
	cfg.TLS = agent.TLSConfig{Mode: agent.TLSFiles, CertFile: filepath.Join(certDir, "missing.crt"), KeyFile: files.KeyFile}
	if ag, err := agent.New(cfg); err == nil {
		ag.Close()
		t.Fatal("agent started with a missing certificate file")
	}
}

// pinnedHTTP is an HTTP client that pins fp.
func pinnedHTTP(t *testing.T, fp agentapi.Fingerprint) *http.Client {
	t.Helper()
	tc, err := agentapi.PinnedTLSConfig(fp)
	if err != nil {
		t.Fatal(err)
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig = tc
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr, Timeout: time.Minute}
}
