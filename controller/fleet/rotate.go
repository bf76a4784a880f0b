package fleet

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"

	"github.com/wgfleet/wgfleet/agent/agentapi"
	"github.com/wgfleet/wgfleet/controller/agentclient"
	"github.com/wgfleet/wgfleet/controller/fault"
	"github.com/wgfleet/wgfleet/controller/store"
)

// Errors of a secret rotation.
var (
	// ErrRotationUnsupported: the node's agent does not advertise
	// agentapi.CapSecretRotation (an agent of the seed's family).
	ErrRotationUnsupported = fault.New(fault.ECONFLICT,
		`the node's agent cannot take a new secret over its API (it does not advertise "secret-rotation"): `+
			`rotate its secret by hand with the agent's secret file (docs/OPERATIONS.md, "Rotating an agent secret by hand")`)
	// ErrRotationBusy: a rotation of the same node is under way.
	ErrRotationBusy = fault.New(fault.ECONFLICT, "a secret rotation of this node is already under way")
)

// RotateResult is what RotateSecret did.
type RotateResult struct {
	Node NodeView `json:"node"`
	// Resumed reports that an earlier rotation, stopped after the agent
	// took its secret, was finished instead of starting a new one.
	Resumed bool `json:"resumed"`
}

// rotatedSecretBytes is the size of a secret the controller makes, before
// hex encoding.
const rotatedSecretBytes = 32

// RotateSecret gives node id's agent a new secret without a failed
// request (docs/OPERATIONS.md, "Rotating an agent secret"):
//
//  1. the agent is offered a new secret, sealed and signed with the
//     current one; it then accepts both;
//  2. the node's secret becomes the new one and its previous secret the
//     old one, in the store and in the node's agent client, which signs
//     with the new secret and, on a 401, with the old;
//  3. a confirm signed with the new secret makes the agent drop the old;
//     a request signed with the old secret and still in flight is refused
//     then and signed again with the new one by the client;
//  4. the previous secret is forgotten.
//
// A failure at any step leaves the node reachable: before step 2 the
// controller signs with the old secret, which the agent keeps until step
// 3; after it the client holds both. A node left between steps 2 and 4
// (it has a previous secret) is finished by the next RotateSecret, which
// confirms; if the agent does not know the new secret (the offer was
// lost), the old one is restored and a new rotation starts. An agent
// without the capability is ErrRotationUnsupported; a rotation of the
// same node under way is ErrRotationBusy. Steps 2 and 4 are audited
// (node.secret_offer, node.secret_rotate), never with a secret. Once the
// offer is sent, the rotation goes on if ctx is canceled.
func (s *Service) RotateSecret(ctx context.Context, actor Actor, id int64) (RotateResult, error) {
	if err := checkActor(actor); err != nil {
		return RotateResult{}, err
	}
	if _, busy := s.rotating.LoadOrStore(id, struct{}{}); busy {
		return RotateResult{}, fmt.Errorf("rotating the secret of node %d: %w", id, ErrRotationBusy)
	}
	defer s.rotating.Delete(id)
	res, err := s.rotate(ctx, actor, id)
	if err != nil {
		return RotateResult{}, fmt.Errorf("rotating the secret of node %d: %w", id, err)
	}
	s.log.Info("node secret rotated", "node_id", id, "resumed", res.Resumed, "actor", string(actor))
	return res, nil
}

func (s *Service) rotate(ctx context.Context, actor Actor, id int64) (RotateResult, error) {
	n, err := s.store.GetNode(ctx, id)
	if err != nil {
		return RotateResult{}, err
	}
	if n.PrevSecret != nil {
		done, err := s.resume(ctx, actor, n)
		if err != nil || done {
			return s.rotated(ctx, id, done, err)
		}
		// The agent never took the new secret: back to the old one.
		if n, err = s.setSecrets(ctx, actor, n, n.PrevSecret, nil, "node.secret_restore"); err != nil {
			return RotateResult{}, err
		}
	}
	c, err := s.agents.For(n)
	if err != nil {
		return RotateResult{}, err
	}
	hctx, cancel := context.WithTimeout(ctx, s.agentTimeout)
	h, err := s.agents.Health(hctx, n)
	cancel()
	if err != nil {
		return RotateResult{}, agentStep("asking the agent for its capabilities", err)
	}
	if !h.HasCapability(agentapi.CapSecretRotation) {
		return RotateResult{}, ErrRotationUnsupported
	}
	next, err := newSecret()
	if err != nil {
		return RotateResult{}, err
	}
	// From the offer on, finish what can be finished even if the caller
	// goes away.
	ctx = context.WithoutCancel(ctx)
	octx, cancel := context.WithTimeout(ctx, s.agentTimeout)
	_, err = c.OfferSecret(octx, n.Secret, next)
	cancel()
	if err != nil {
		// The agent may have taken it (an answer lost): it then accepts
		// both, and the controller goes on signing with the old one.
		return RotateResult{}, agentStep("offering the new secret failed; the node keeps its secret", err)
	}
	if n, err = s.setSecrets(ctx, actor, n, next, n.Secret, "node.secret_offer"); err != nil {
		return RotateResult{}, err
	}
	return s.rotated(ctx, id, false, s.confirm(ctx, actor, n))
}

// resume finishes a rotation stopped after step 2: done is false when the
// agent refuses the node's new secret (it never took it).
func (s *Service) resume(ctx context.Context, actor Actor, n store.Node) (done bool, err error) {
	ctx = context.WithoutCancel(ctx)
	err = s.confirm(ctx, actor, n)
	if errors.Is(err, agentapi.ErrUnauthorized) {
		s.log.Warn("the agent does not know the secret of the unfinished rotation; restoring the previous one", "node_id", n.ID)
		return false, nil
	}
	return err == nil, err
}

// confirm confirms n.Secret to n's agent (step 3), then forgets
// n.PrevSecret (step 4).
func (s *Service) confirm(ctx context.Context, actor Actor, n store.Node) error {
	c, err := s.agents.For(n)
	if err != nil {
		return err
	}
	cctx, cancel := context.WithTimeout(ctx, s.agentTimeout)
	_, err = c.ConfirmSecret(cctx, n.Secret)
	cancel()
	if err != nil {
		return agentStep("confirming the new secret failed; the agent accepts the old and the new one until a rotation finishes it (rotate again)", err)
	}
	_, err = s.setSecrets(ctx, actor, n, n.Secret, nil, "node.secret_rotate")
	return err
}

// setSecrets stores secret and prev as node n's secrets with an audit
// entry of action, then gives them to n's agent client; it returns n as
// stored.
func (s *Service) setSecrets(ctx context.Context, actor Actor, n store.Node, secret, prev []byte, action string) (store.Node, error) {
	var out store.Node
	err := s.store.InTx(ctx, func(tx *store.Tx) error {
		if err := tx.SetNodeSecrets(ctx, n.ID, secret, prev); err != nil {
			return err
		}
		if err := audit(ctx, tx, actor, action, "node", n.ID, map[string]any{"name": n.Name}); err != nil {
			return err
		}
		var err error
		out, err = tx.GetNode(ctx, n.ID)
		return err
	})
	if err != nil {
		return store.Node{}, fmt.Errorf("storing the node's secrets: %w", err)
	}
	// The client signs with the stored secrets from now on; one that
	// fails to be made would fail For in every caller, and says why there.
	_, _ = s.agents.For(out)
	return out, nil
}

// rotated is RotateSecret's answer once the agent steps are over.
func (s *Service) rotated(ctx context.Context, id int64, resumed bool, err error) (RotateResult, error) {
	if err != nil {
		return RotateResult{}, err
	}
	v, err := s.GetNode(context.WithoutCancel(ctx), id)
	if err != nil {
		return RotateResult{}, err
	}
	return RotateResult{Node: v, Resumed: resumed}, nil
}

// agentStep is the error of a rotation step the agent failed: EAGENT
// (502), saying what the node's state is, whatever the agent answered;
// ErrUnreachable when it gave no answer.
func agentStep(what string, err error) error {
	return fault.Errorf(fault.EAGENT, "%s: %w", what, agentclient.Classify(err))
}

// newSecret is a fresh secret: 32 random bytes in hex.
func newSecret() ([]byte, error) {
	b := make([]byte, rotatedSecretBytes)
	if _, err := rand.Read(b); err != nil {
		return nil, fmt.Errorf("making a secret: %w", err)
	}
	return []byte(hex.EncodeToString(b)), nil
}
