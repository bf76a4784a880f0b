package agentclient

import (
	"context"
	"errors"
	"testing"

	"github.com/wgfleet/wgfleet/agent/agentapi"
	"github.com/wgfleet/wgfleet/agent/agenttest"
	"github.com/wgfleet/wgfleet/controller/store"
)

// TestForFollowsRotation walks the node copies a secret rotation stores
// (fleet.Service.RotateSecret) against a real agent: each client gets its
// request through at every step, a copy read before a step does not bring
// the old secrets back, and a client replaced by a newer one is given the
// new secret.
func TestForFollowsRotation(t *testing.T) {
	ctx := context.Background()
	a := agenttest.Start(t, agenttest.Options{})
	old, next := []byte(a.Secret), []byte(agenttest.RandomSecret())
	p := NewPool(PoolOptions{})
	before := store.Node{ID: 3, AgentURL: a.URL, Secret: old, WGInterface: "wg0", SecretVersion: 4}
	switched := before
	switched.Secret, switched.PrevSecret, switched.SecretVersion = next, old, 5
	done := switched
	done.PrevSecret, done.SecretVersion = nil, 6

	works := func(step string, n store.Node) *agentapi.Client {
		t.Helper()
		c, err := p.For(n)
		if err != nil {
			t.Fatalf("%s: %v", step, err)
		}
		if _, err := c.Interface(ctx, "wg0"); err != nil {
			t.Fatalf("%s: %v", step, err)
		}
		return c
	}
	c1 := works("before", before)
	if _, err := c1.OfferSecret(ctx, old, next); err != nil {
		t.Fatal(err)
	}
	c2 := works("switched, the agent accepting both", switched)
	if c2 == c1 {
		t.Fatal("new secrets kept the old client")
	}
	if _, err := c2.ConfirmSecret(ctx, next); err != nil {
		t.Fatal(err)
	}
	// The agent takes only the new secret now. The replaced client, as
	// a caller that took it before the switch still holds it, signs
	// with the old one first and then again with the new.
	if _, err := c1.Interface(ctx, "wg0"); err != nil {
		t.Errorf("the replaced client after the confirm: %v", err)
	}
	if got := works("a copy read before the switch", before); got != c2 {
		t.Error("a copy of an older secret version replaced the client")
	}
	c3 := works("done", done)
	if c3 == c2 {
		t.Error("the finished rotation kept the client with the previous secret")
	}

	// Only the old secret, as a client without fallbacks: refused.
	oc, err := p.Probe(a.URL, old, agentapi.Fingerprint{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := oc.Interface(ctx, "wg0"); !errors.Is(err, agentapi.ErrUnauthorized) {
		t.Errorf("the old secret after the rotation: %v, want 401", err)
	}
}
