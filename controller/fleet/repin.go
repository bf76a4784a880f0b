package fleet

import (
	"context"
	"fmt"
	"net/url"

	"github.com/wgfleet/wgfleet/agent/agentapi"
	"github.com/wgfleet/wgfleet/controller/agentclient"
	"github.com/wgfleet/wgfleet/controller/fault"
	"github.com/wgfleet/wgfleet/controller/store"
)

// ErrRepinExpectMismatch: the agent presented a certificate other than the
// one the caller said to expect; nothing was pinned.
var ErrRepinExpectMismatch = fault.New(fault.ECONFLICT, "the agent's certificate is not the expected one")

// RepinResult is the outcome of RepinNode.
type RepinResult struct {
	Node NodeView `json:"node"`
	// Previous is the fingerprint pinned before ("" for none); Changed
	// says whether the pin changed.
	Previous string `json:"previous_tls_fingerprint"`
	Changed  bool   `json:"changed"`
}

// RepinNode deliberately pins the certificate node id's agent presents
// now: after the agent's certificate was changed on purpose, or to pin an
// https agent for the first time. The agent URL must be https. When expect
// is not zero (the fingerprint the agent logged at start, copied by the
// operator) a different certificate is refused with
// ErrRepinExpectMismatch. The agent must then answer /health, signed with
// the node's secret, over a connection pinned to the new certificate;
// otherwise nothing is pinned and the error says why. The change is
// audited ("node.repin", with the old and the new fingerprint), even when
// the fingerprint stays the same; the node's client is rebuilt and the
// node polled soon.
func (s *Service) RepinNode(ctx context.Context, actor Actor, id int64, expect agentapi.Fingerprint) (RepinResult, error) {
	if err := checkActor(actor); err != nil {
		return RepinResult{}, err
	}
	n, err := s.store.GetNode(ctx, id)
	if err != nil {
		return RepinResult{}, fmt.Errorf("re-pinning node %d: %w", id, err)
	}
	if u, err := url.Parse(n.AgentURL); err != nil || u.Scheme != "https" {
		return RepinResult{}, Invalid("agent_url", "is %s: only an https agent has a certificate to pin; start the agent with --tls auto and set an https agent_url", n.AgentURL)
	}
	actx, cancel := context.WithTimeout(ctx, s.agentTimeout)
	defer cancel()
	fp, err := s.agents.PresentedFingerprint(actx, n.AgentURL)
	if err != nil {
		return RepinResult{}, fmt.Errorf("re-pinning node %s: %w", n.Name, agentclient.Classify(err))
	}
	if !expect.IsZero() && fp != expect {
		return RepinResult{}, fmt.Errorf("re-pinning node %s: %w: it presented %s, not %s", n.Name, ErrRepinExpectMismatch, fp, expect)
	}
	c, err := s.agents.Probe(n.AgentURL, n.Secret, fp)
	if err != nil {
		return RepinResult{}, fmt.Errorf("re-pinning node %s: %w", n.Name, err)
	}
	if _, err := c.Health(actx); err != nil {
		return RepinResult{}, fmt.Errorf("re-pinning node %s: the server presenting %s… did not answer /health to the node's secret: %w", n.Name, fp.Short(), agentclient.Classify(err))
	}

	res := RepinResult{Previous: n.TLSFingerprint.String(), Changed: fp != n.TLSFingerprint}
	err = s.store.InTx(ctx, func(tx *store.Tx) error {
		if err := tx.SetNodeTLSFingerprint(ctx, id, n.AgentURL, fp); err != nil {
			return err
		}
		if err := audit(ctx, tx, actor, "node.repin", "node", id, map[string]any{
			"name": n.Name, "agent_url": n.AgentURL,
			"previous_tls_fingerprint": res.Previous, "tls_fingerprint": fp.String(), "changed": res.Changed,
		}); err != nil {
			return err
		}
		res.Node, err = nodeViewTx(ctx, tx, id)
		return err
	})
	if err != nil {
		return RepinResult{}, fmt.Errorf("re-pinning node %s: %w", n.Name, err)
	}
	s.log.Warn("node re-pinned", "node_id", id, "name", n.Name, "previous", res.Previous, "tls_fingerprint", fp.String(), "actor", string(actor))
	s.trigger(id)
	if n.Enabled {
		s.watch(id)
	}
	return res, nil
}
