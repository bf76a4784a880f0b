package fleet

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/wgfleet/wgfleet/agent/agentapi"
	"github.com/wgfleet/wgfleet/controller/agentclient"
	"github.com/wgfleet/wgfleet/controller/events"
	"github.com/wgfleet/wgfleet/controller/labels"
	"github.com/wgfleet/wgfleet/controller/store"
)

// ListNodes returns every node with its peer count, in id order.
func (s *Service) ListNodes(ctx context.Context) ([]NodeView, error) {
	return s.ListNodesMatching(ctx, nil)
}

// ListNodesMatching returns the nodes that carry every label of sel (all
// of them for an empty sel) with their peer counts, in id order. A
// selector that breaks the label rules is a *ValidationError for "label".
func (s *Service) ListNodesMatching(ctx context.Context, sel labels.Set) ([]NodeView, error) {
	if err := labels.Check(sel); err != nil {
		return nil, Invalid("label", "%v", err)
	}
	var views []NodeView
	err := s.store.View(ctx, func(tx *store.Tx) error {
		nodes, err := tx.ListNodesMatching(ctx, sel)
		if err != nil {
			return err
		}
		views = make([]NodeView, 0, len(nodes))
		for _, n := range nodes {
			count, err := tx.CountPeers(ctx, n.ID)
			if err != nil {
				return err
			}
			views = append(views, nodeView(n, count))
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("listing nodes: %w", err)
	}
	return views, nil
}

// GetNode returns one node, or an error wrapping store.ErrNotFound.
func (s *Service) GetNode(ctx context.Context, id int64) (NodeView, error) {
	var v NodeView
	err := s.store.View(ctx, func(tx *store.Tx) error {
		var err error
		v, err = nodeViewTx(ctx, tx, id)
		return err
	})
	return v, err
}

func nodeViewTx(ctx context.Context, tx *store.Tx, id int64) (NodeView, error) {
	n, err := tx.GetNode(ctx, id)
	if err != nil {
		return NodeView{}, err
	}
	count, err := tx.CountPeers(ctx, id)
	if err != nil {
		return NodeView{}, err
	}
	return nodeView(n, count), nil
}

// nodeAudit is what the audit log keeps about a node: never its secret.
func nodeAudit(n store.Node) map[string]any {
	return map[string]any{
		"name":            n.Name,
		"agent_url":       n.AgentURL,
		"wg_interface":    n.WGInterface,
		"endpoint":        n.Endpoint,
		"ip_pool_cidr":    prefixString(n.IPPool),
		"ip_pool6_cidr":   prefixString(n.IPPool6),
		"enabled":         n.Enabled,
		"weight":          n.Weight,
		"max_peers":       n.MaxPeers,
		"drift_policy":    string(n.DriftPolicy),
		"labels":          n.Labels.Clone(),
		"tls_fingerprint": n.TLSFingerprint.String(),
	}
}

// CreateNode validates in and adds the node (enabled unless in says
// otherwise; interface wg0, weight 100, drift policy repair by default).
// An absent or empty endpoint is derived (deriveEndpoint: the agent URL's
// host and the agent's listen port) and the answer says so
// (EndpointDerived). Errors: *ValidationError (ErrInvalid), including an
// endpoint that cannot be derived; store.ErrConflict for a name already
// taken, a *ConflictError for a pool overlapping another node's unless
// in.AllowOverlap.
func (s *Service) CreateNode(ctx context.Context, actor Actor, in NodeInput) (NodeView, error) {
	if err := checkActor(actor); err != nil {
		return NodeView{}, err
	}
	n, _, err := nodeFromInput(store.Node{}, in, true)
	if err != nil {
		return NodeView{}, err
	}
	// Without an endpoint, the agent is asked for its listen port: the
	// refusals that need no agent come first, and no transaction is open
	// while it answers.
	derived := n.Endpoint == ""
	if derived {
		err := s.store.View(ctx, func(tx *store.Tx) error { return checkNodeFree(ctx, tx, n, deref(in.AllowOverlap)) })
		if err != nil {
			return NodeView{}, fmt.Errorf("creating node %q: %w", n.Name, err)
		}
		if n.Endpoint, err = s.deriveEndpoint(ctx, n); err != nil {
			return NodeView{}, fmt.Errorf("creating node %q: %w", n.Name, err)
		}
	}
	var v NodeView
	err = s.store.InTx(ctx, func(tx *store.Tx) error {
		if err := checkNodeFree(ctx, tx, n, deref(in.AllowOverlap)); err != nil {
			return err
		}
		created, err := tx.CreateNode(ctx, n)
		if err != nil {
			return err
		}
		if _, err := tx.BumpGeneration(ctx, created.ID); err != nil {
			return err
		}
		details := nodeAudit(created)
		details["endpoint_derived"] = derived
		if err := audit(ctx, tx, actor, "node.create", "node", created.ID, details); err != nil {
			return err
		}
		v, err = nodeViewTx(ctx, tx, created.ID)
		return err
	})
	if err != nil {
		return NodeView{}, fmt.Errorf("creating node %q: %w", n.Name, err)
	}
	v.EndpointDerived = derived
	if derived {
		s.log.Info("node endpoint derived from its agent", "name", v.Name, "endpoint", v.Endpoint)
	}
	s.log.Info("node created", "node_id", v.ID, "name", v.Name, "actor", string(actor))
	s.trigger(v.ID)
	if v.Enabled {
		s.watch(v.ID)
	}
	return v, nil
}

// UpdateNode changes the fields in gives; an absent or empty secret keeps
// the stored one. While the node has peers its interface cannot change and
// new pools must hold every address in use (store.ErrNodeHasPeers). An
// update that changes nothing writes nothing.
func (s *Service) UpdateNode(ctx context.Context, actor Actor, id int64, in NodeInput) (NodeView, error) {
	if err := checkActor(actor); err != nil {
		return NodeView{}, err
	}
	var (
		v       NodeView
		changed []string
	)
	err := s.store.InTx(ctx, func(tx *store.Tx) error {
		old, err := tx.GetNode(ctx, id)
		if err != nil {
			return err
		}
		var n store.Node
		if n, changed, err = nodeFromInput(old, in, false); err != nil {
			return err
		}
		if len(changed) == 0 {
			v, err = nodeViewTx(ctx, tx, id)
			return err
		}
		if err := checkPoolsApart(ctx, tx, n, old, deref(in.AllowOverlap)); err != nil {
			return err
		}
		if _, err := tx.UpdateNode(ctx, n); err != nil {
			return err
		}
		if _, err := tx.BumpGeneration(ctx, id); err != nil {
			return err
		}
		details := nodeAudit(n)
		details["changed"] = changed
		if err := audit(ctx, tx, actor, "node.update", "node", id, details); err != nil {
			return err
		}
		v, err = nodeViewTx(ctx, tx, id)
		return err
	})
	if err != nil {
		return NodeView{}, fmt.Errorf("updating node %d: %w", id, err)
	}
	if len(changed) > 0 {
		s.log.Info("node updated", "node_id", id, "changed", changed, "actor", string(actor))
		s.trigger(id)
		if v.Enabled && (slices.Contains(changed, "agent_url") || slices.Contains(changed, "secret") || slices.Contains(changed, "enabled")) {
			s.watch(id)
		}
	}
	return v, nil
}

// DeleteNode deletes a node. A node with peers is refused with
// store.ErrNodeHasPeers unless force is set; then its peers go with it and
// their addresses are freed. With force, once the database has committed,
// the service removes those peers from the agent as well, best effort and
// within the agent timeout: an agent that cannot be reached keeps them,
// and nothing will reconcile it any more, since the node is gone. Then
// the node's agent client is dropped, and the Syncer is told so that it
// can forget the node.
func (s *Service) DeleteNode(ctx context.Context, actor Actor, id int64, force bool) error {
	if err := checkActor(actor); err != nil {
		return err
	}
	var (
		node  store.Node
		peers []store.Peer
	)
	err := s.store.InTx(ctx, func(tx *store.Tx) error {
		var err error
		if node, err = tx.GetNode(ctx, id); err != nil {
			return err
		}
		if peers, err = tx.ListPeers(ctx, id); err != nil {
			return err
		}
		if err := tx.DeleteNode(ctx, id, force); err != nil {
			return err
		}
		details := nodeAudit(node)
		details["force"] = force
		details["peers_removed"] = len(peers)
		return audit(ctx, tx, actor, "node.delete", "node", id, details)
	})
	if err != nil {
		return fmt.Errorf("deleting node %d: %w", id, err)
	}
	s.log.Info("node deleted", "node_id", id, "name", node.Name, "peers_removed", len(peers), "actor", string(actor))
	if len(peers) > 0 {
		s.removeFromAgent(ctx, node, peers)
	}
	s.agents.Forget(id)
	s.trigger(id)
	for _, p := range peers {
		s.publishPeerOn(ctx, events.PeerDeleted, peerView(p), node,
			fmt.Sprintf("peer %s was deleted with node %s by %s", peerLabel(p), node.Name, actor))
	}
	return nil
}

// removeFromAgent deletes peers from a node's agent, best effort: it
// stops at the first failure to reach the agent and never fails.
func (s *Service) removeFromAgent(ctx context.Context, node store.Node, peers []store.Peer) {
	log := s.log.With("node_id", node.ID, "name", node.Name)
	c, err := s.agents.For(node)
	if err != nil {
		log.Warn("not removing peers of a deleted node from its agent", "err", err)
		return
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.agentTimeout)
	defer cancel()
	removed := 0
	for _, p := range peers {
		err := c.DeletePeer(ctx, p.Iface, p.PublicKey)
		switch {
		case err == nil:
			removed++
		case errors.Is(err, agentapi.ErrNotFound):
		case !agentclient.Unreachable(err):
			log.Warn("agent refused to remove a peer of a deleted node", "peer_id", p.ID, "err", err)
		default:
			log.Warn("agent unreachable; peers of the deleted node stay on it", "err", err, "left", len(peers)-removed)
			return
		}
	}
	log.Info("peers of the deleted node removed from its agent", "removed", removed)
}

// ToggleNode enables or disables a node; nil flips it. A disabled node is
// not polled, keeps its peers in the database and is never chosen by
// placement.
func (s *Service) ToggleNode(ctx context.Context, actor Actor, id int64, enabled *bool) (NodeView, error) {
	if err := checkActor(actor); err != nil {
		return NodeView{}, err
	}
	var (
		v       NodeView
		changed bool
	)
	err := s.store.InTx(ctx, func(tx *store.Tx) error {
		n, err := tx.GetNode(ctx, id)
		if err != nil {
			return err
		}
		want := !n.Enabled
		if enabled != nil {
			want = *enabled
		}
		if changed = want != n.Enabled; changed {
			if err := tx.SetNodeEnabled(ctx, id, want); err != nil {
				return err
			}
			if _, err := tx.BumpGeneration(ctx, id); err != nil {
				return err
			}
			action := "node.disable"
			if want {
				action = "node.enable"
			}
			if err := audit(ctx, tx, actor, action, "node", id, map[string]any{"name": n.Name, "enabled": want}); err != nil {
				return err
			}
		}
		v, err = nodeViewTx(ctx, tx, id)
		return err
	})
	if err != nil {
		return NodeView{}, fmt.Errorf("toggling node %d: %w", id, err)
	}
	if changed {
		s.log.Info("node toggled", "node_id", id, "enabled", v.Enabled, "actor", string(actor))
		s.trigger(id)
		if v.Enabled {
			s.watch(id)
		}
	}
	return v, nil
}
