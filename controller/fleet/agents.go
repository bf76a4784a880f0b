package fleet

import (
	"context"

	"github.com/wgfleet/wgfleet/agent/agentapi"
	"github.com/wgfleet/wgfleet/controller/agentclient"
	"github.com/wgfleet/wgfleet/controller/store"
)

// Agents is the service's road to the agents: the signed client of each
// node, kept with what is known of its agent, and a client for an agent
// that is not a node yet. agentclient.Pool implements it; the controller
// gives the service the Pool its poller and reconciler use.
type Agents interface {
	// For returns the client of node n; it fails when n's agent URL or
	// secret is unusable.
	For(n store.Node) (*agentapi.Client, error)
	// Health asks node n's agent for /health and remembers what it
	// advertised.
	Health(ctx context.Context, n store.Node) (agentapi.Health, error)
	// Probe returns a client for the agent at agentURL, signing with
	// secret and pinning pin (zero: none), that is not kept: for testing
	// an agent before it is a node, or re-pinning one.
	Probe(agentURL string, secret []byte, pin agentapi.Fingerprint) (*agentapi.Client, error)
	// PresentedFingerprint returns the fingerprint of the certificate the
	// https agent at agentURL presents now, unchecked: for re-pinning.
	PresentedFingerprint(ctx context.Context, agentURL string) (agentapi.Fingerprint, error)
	// Forget drops the client of a node and what was known of its agent;
	// for a deleted node.
	Forget(nodeID int64)
}

var _ Agents = (*agentclient.Pool)(nil)
