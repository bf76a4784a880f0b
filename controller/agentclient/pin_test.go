package agentclient

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/wgfleet/wgfleet/agent"
	"github.com/wgfleet/wgfleet/agent/agentapi"
	"github.com/wgfleet/wgfleet/agent/agenttest"
	"github.com/wgfleet/wgfleet/controller/fault"
	"github.com/wgfleet/wgfleet/controller/store"
)

// TestPinnedClients: a node pinned to its agent's certificate is served
// over its own transport; a wrong pin is refused with a
// *agentapi.PinMismatchError that is an answer (not unreachable), carries
// ETLSPIN once classified, and is described with both fingerprints; a new
// pin rebuilds the client and its transport; https without a pin checks
// the system's authorities, which a self-signed agent fails.
func TestPinnedClients(t *testing.T) {
	ctx := context.Background()
	a := agenttest.Start(t, agenttest.Options{TLS: agent.TLSConfig{Mode: agent.TLSAuto}})
	fp := a.TLSFingerprint()
	wrong := agentapi.FingerprintOf([]byte("another certificate"))
	p := NewPool(PoolOptions{})
	n := store.Node{ID: 1, AgentURL: a.URL, Secret: []byte(a.Secret), WGInterface: "wg0", TLSFingerprint: fp}

	c1, err := p.For(n)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.Health(ctx, n); err != nil {
		t.Fatalf("pinned to the agent's certificate: %v", err)
	}
	if c, _ := p.For(n); c != c1 {
		t.Fatal("the same pin made a new client")
	}
	first := p.entries[1].own
	if first == nil || first == p.hc.Transport {
		t.Fatal("a pinned node does not have a transport of its own")
	}

	n.TLSFingerprint = wrong
	c2, err := p.For(n)
	if err != nil {
		t.Fatal(err)
	}
	if c2 == c1 || p.entries[1].own == first {
		t.Fatal("a new pin kept the old client or transport")
	}
	_, err = p.Health(ctx, n)
	var pinErr *agentapi.PinMismatchError
	if !errors.As(err, &pinErr) || pinErr.Pinned != wrong || pinErr.Presented != fp {
		t.Fatalf("wrong pin: %v, want a PinMismatchError naming both", err)
	}
	if Unreachable(err) {
		t.Error("a refused certificate counts as unreachable")
	}
	classified := Classify(err)
	if !errors.Is(classified, ErrTLSPinMismatch) || fault.ErrorCode(classified) != fault.ETLSPIN {
		t.Errorf("Classify: %v (code %s), want ErrTLSPinMismatch, %s", classified, fault.ErrorCode(classified), fault.ETLSPIN)
	}
	msg := Describe(a.URL, err)
	for _, want := range []string{fp.Short(), wrong.Short(), "re-pin"} {
		if !strings.Contains(msg, want) {
			t.Errorf("Describe %q does not say %q", msg, want)
		}
	}

	n.TLSFingerprint = agentapi.Fingerprint{}
	if _, err := p.Health(ctx, n); err == nil || errors.As(err, &pinErr) {
		t.Fatalf("unpinned https to a self-signed agent: %v, want a certificate verification error", err)
	}
	if p.entries[1].own != nil {
		t.Fatal("an unpinned node kept a transport of its own")
	}

	http := store.Node{ID: 2, AgentURL: "http://" + a.Addr, Secret: []byte(a.Secret), TLSFingerprint: fp}
	if _, err := p.For(http); err == nil || !strings.Contains(err.Error(), "https") {
		t.Fatalf("a pin on an http URL: %v, want an error saying https", err)
	}

	got, err := p.PresentedFingerprint(ctx, a.URL)
	if err != nil || got != fp {
		t.Fatalf("PresentedFingerprint = %v, %v; want %v", got, err, fp)
	}
	if _, err := p.PresentedFingerprint(ctx, "http://"+a.Addr); err == nil {
		t.Fatal("PresentedFingerprint of an http URL: no error")
	}

	probe, err := p.Probe(a.URL, []byte(a.Secret), fp)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := probe.Health(ctx); err != nil {
		t.Fatalf("pinned probe: %v", err)
	}
	probe, err = p.Probe(a.URL, []byte(a.Secret), wrong)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := probe.Health(ctx); !errors.As(err, &pinErr) {
		t.Fatalf("probe with a wrong pin: %v, want a PinMismatchError", err)
	}
}
