package fleet

import (
	"context"
	"errors"
	"fmt"

	"github.com/wgfleet/wgfleet/controller/ipam"
	"github.com/wgfleet/wgfleet/controller/labels"
	"github.com/wgfleet/wgfleet/controller/store"
)

// MoveResult is the answer to moving a peer to another node. The client's
// config always changes (endpoint, server key and address), so a client
// must download it again.
type MoveResult struct {
	// Peer is the peer on its new node; it keeps its id, keys, settings
	// and cumulative traffic.
	Peer       PeerView `json:"peer"`
	FromNodeID int64    `json:"from_node_id"`
	ToNodeID   int64    `json:"to_node_id"`
	// ConfigChanged is always true: the client needs its new config.
	ConfigChanged    bool   `json:"config_changed"`
	Endpoint         string `json:"endpoint"`
	Address4         string `json:"address4"`
	Address6         string `json:"address6"`
	PreviousEndpoint string `json:"previous_endpoint"`
	PreviousAddress4 string `json:"previous_address4"`
	PreviousAddress6 string `json:"previous_address6"`
	Message          string `json:"message"`
}

// DrainResult is the answer to draining a node.
type DrainResult struct {
	NodeID int64 `json:"node_id"`
	// Region is the region the peers were kept in; "" when they could go
	// to any node.
	Region    string       `json:"region"`
	Moved     []MoveResult `json:"moved"`
	Remaining int          `json:"remaining"` // peers still on the node
	Message   string       `json:"message"`
}

// MovePeer moves a peer to node targetNodeID: a new address from the
// target's pools, the peer (same keys, name, routes, DNS, keepalive,
// enabled and cumulative traffic) on the target, removed from the source,
// its source addresses freed and both nodes' desired generations bumped,
// all in ONE database transaction. Then the Syncer is told about both
// nodes and brings the agents along: "database first, reconcile
// converges". If the target's agent is unreachable, nothing is lost or
// doubled: the database holds the peer once, on the target, and the
// reconciler applies it there (and removes it from the source) when it
// can. A failed move (target full, pool exhausted, key already on the
// target) changes nothing.
//
// The target may be offline but not disabled (a *ValidationError for
// "node_id", as is the peer's own node), and the peer's key must be usable
// on it (agentapi.CheckPeerKey against the target's interface key; a
// *ValidationError for "public_key").
func (s *Service) MovePeer(ctx context.Context, actor Actor, id int64, targetNodeID int64) (MoveResult, error) {
	if err := checkActor(actor); err != nil {
		return MoveResult{}, err
	}
	return s.movePeer(ctx, actor, id, targetNodeID, "")
}

func (s *Service) movePeer(ctx context.Context, actor Actor, id int64, targetNodeID int64, reason string) (MoveResult, error) {
	var res MoveResult
	err := s.store.InTx(ctx, func(tx *store.Tx) error {
		old, err := tx.GetPeer(ctx, id)
		if err != nil {
			return err
		}
		src, err := tx.GetNode(ctx, old.NodeID)
		if err != nil {
			return err
		}
		dst, err := tx.GetNode(ctx, targetNodeID)
		if err != nil {
			return err
		}
		switch {
		case dst.ID == src.ID:
			return Invalid("node_id", "peer %d is already on node %s; choose another node", id, src.Name)
		case !dst.Enabled:
			return Invalid("node_id", "node %s is disabled; enable it or choose another node", dst.Name)
		}
		if err := checkPeerKey(old.PublicKey, dst); err != nil {
			return err
		}
		if p, err := tx.PeerNamed(ctx, dst.ID, old.Name); err == nil {
			return &ConflictError{Field: "node_id", Message: fmt.Sprintf(
				"node %s already has a peer named %s (peer %d); rename one of them first, or choose another node", dst.Name, p.Name, p.ID)}
		} else if !errors.Is(err, store.ErrNotFound) {
			return err
		}
		moved, err := tx.MovePeer(ctx, id, dst.ID)
		if err != nil {
			return err
		}
		res = MoveResult{
			Peer:             peerView(moved),
			FromNodeID:       src.ID,
			ToNodeID:         dst.ID,
			ConfigChanged:    true,
			Endpoint:         dst.Endpoint,
			Address4:         addrString(moved.Address4),
			Address6:         addrString(moved.Address6),
			PreviousEndpoint: src.Endpoint,
			PreviousAddress4: addrString(old.Address4),
			PreviousAddress6: addrString(old.Address6),
		}
		res.Message = fmt.Sprintf("peer moved from %s to %s; the client config changed: download it again (endpoint %s, address %s, and the new node's public key)",
			src.Name, dst.Name, orNone(dst.Endpoint), res.Address4)
		details := peerAudit(moved)
		details["from_node_id"] = src.ID
		details["previous_address4"] = res.PreviousAddress4
		details["previous_address6"] = res.PreviousAddress6
		if reason != "" {
			details["reason"] = reason
		}
		return audit(ctx, tx, actor, "peer.move", "peer", moved.ID, details)
	})
	if err != nil {
		return MoveResult{}, fmt.Errorf("moving peer %d to node %d: %w", id, targetNodeID, err)
	}
	s.log.Info("peer moved", "peer_id", res.Peer.ID, "from_node_id", res.FromNodeID,
		"to_node_id", res.ToNodeID, "address4", res.Address4, "actor", string(actor))
	s.trigger(res.FromNodeID, res.ToNodeID)
	return res, nil
}

// DrainOptions say where DrainNode and MovePeerAuto may move peers.
type DrainOptions struct {
	// AnyRegion lets peers leave their node's region (the labels.Region
	// label). Without it they go only to nodes of the same region; a
	// node without a region label has no region to keep to.
	AnyRegion bool
}

// regionSelector is what nodes the peers of node n may move to under
// opts: those of n's region, or any (nil).
func regionSelector(n store.Node, opts DrainOptions) labels.Set {
	region, ok := n.Labels[labels.Region]
	if opts.AnyRegion || !ok {
		return nil
	}
	return labels.Set{labels.Region: region}
}

// DrainNode moves every peer off a node, each to the node placement picks
// among the others (see PlaceNode), one transaction per peer. Peers stay
// in the node's region (its labels.Region label) unless opts.AnyRegion
// is set. It does not disable the node: set its weight to 0 or disable it
// to keep automatic placement away. When some peers cannot be moved (no
// other node fits), the result says how many remain and the error wraps
// ErrNoNodeAvailable, naming the region; the moves made stand.
func (s *Service) DrainNode(ctx context.Context, actor Actor, id int64, opts DrainOptions) (DrainResult, error) {
	if err := checkActor(actor); err != nil {
		return DrainResult{}, err
	}
	node, err := s.store.GetNode(ctx, id)
	if err != nil {
		return DrainResult{}, fmt.Errorf("draining node %d: %w", id, err)
	}
	peers, err := s.store.ListPeers(ctx, id)
	if err != nil {
		return DrainResult{}, fmt.Errorf("draining node %s: %w", node.Name, err)
	}
	sel := regionSelector(node, opts)
	res := DrainResult{NodeID: id, Moved: []MoveResult{}, Region: sel[labels.Region]}
	var stuck error
	for _, p := range peers {
		m, err := s.moveToBest(ctx, actor, p.ID, id, sel, "drain")
		if errors.Is(err, store.ErrNotFound) {
			continue // deleted meanwhile
		}
		if err != nil {
			stuck = err
			break
		}
		res.Moved = append(res.Moved, m)
	}
	res.Remaining, err = s.store.CountPeers(ctx, id)
	if err != nil {
		return res, fmt.Errorf("draining node %s: %w", node.Name, err)
	}
	within := ""
	if res.Region != "" {
		within = " within region " + res.Region
	}
	res.Message = fmt.Sprintf("moved %s off %s%s; %d remain", peersNoun(len(res.Moved)), node.Name, within, res.Remaining)
	auditErr := s.store.InTx(ctx, func(tx *store.Tx) error {
		return audit(ctx, tx, actor, "node.drain", "node", id, map[string]any{
			"name": node.Name, "moved": len(res.Moved), "remaining": res.Remaining,
			"region": res.Region, "any_region": opts.AnyRegion,
		})
	})
	s.log.Info("node drained", "node_id", id, "moved", len(res.Moved), "remaining", res.Remaining,
		"region", res.Region, "actor", string(actor))
	if stuck != nil {
		if res.Region != "" {
			return res, fmt.Errorf("draining node %s: %s (use any_region to move peers out of region %s): %w",
				node.Name, res.Message, res.Region, stuck)
		}
		return res, fmt.Errorf("draining node %s: %s: %w", node.Name, res.Message, stuck)
	}
	if auditErr != nil {
		return res, fmt.Errorf("draining node %s: %w", node.Name, auditErr)
	}
	return res, nil
}

// MovePeerAuto moves a peer to the node placement picks among the others
// (see PlaceNode and MovePeer), within its node's region unless
// opts.AnyRegion is set. When no node fits, the error wraps
// ErrNoNodeAvailable and nothing changes.
func (s *Service) MovePeerAuto(ctx context.Context, actor Actor, id int64, opts DrainOptions) (MoveResult, error) {
	if err := checkActor(actor); err != nil {
		return MoveResult{}, err
	}
	p, err := s.store.GetPeer(ctx, id)
	if err != nil {
		return MoveResult{}, fmt.Errorf("moving peer %d: %w", id, err)
	}
	node, err := s.store.GetNode(ctx, p.NodeID)
	if err != nil {
		return MoveResult{}, fmt.Errorf("moving peer %d: %w", id, err)
	}
	m, err := s.moveToBest(ctx, actor, id, node.ID, regionSelector(node, opts), "auto")
	if err != nil {
		return MoveResult{}, fmt.Errorf("moving peer %d off %s: %w", id, node.Name, err)
	}
	return m, nil
}

// moveToBest moves one peer to the best other node carrying sel that has
// room; reason goes to the audit log.
func (s *Service) moveToBest(ctx context.Context, actor Actor, peerID, from int64, sel labels.Set, reason string) (MoveResult, error) {
	candidates, why, err := s.rankNodes(ctx, from, sel)
	if err != nil {
		return MoveResult{}, err
	}
	for _, n := range candidates {
		m, err := s.movePeer(ctx, actor, peerID, n.ID, reason)
		if errors.Is(err, store.ErrNodeFull) || errors.Is(err, ipam.ErrPoolExhausted) || errors.Is(err, store.ErrConflict) || errors.Is(err, ErrInvalid) {
			why = append(why, fmt.Sprintf("%s cannot take peer %d: %v", n.Name, peerID, err))
			continue
		}
		return m, err
	}
	return MoveResult{}, noNodeError(why, sel, true)
}

// peersNoun is "1 peer" or "N peers".
func peersNoun(n int) string {
	if n == 1 {
		return "1 peer"
	}
	return fmt.Sprintf("%d peers", n)
}

func orNone(s string) string {
	if s == "" {
		return "(none set)"
	}
	return s
}
