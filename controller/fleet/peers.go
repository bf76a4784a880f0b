package fleet

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/wgfleet/wgfleet/controller/events"
	"github.com/wgfleet/wgfleet/controller/ipam"
	"github.com/wgfleet/wgfleet/controller/labels"
	"github.com/wgfleet/wgfleet/controller/store"
)

// ListPeers returns the peers of one node in id order, or an error
// wrapping store.ErrNotFound for an unknown node.
func (s *Service) ListPeers(ctx context.Context, nodeID int64) ([]PeerView, error) {
	peers, err := s.store.ListPeers(ctx, nodeID)
	if err != nil {
		return nil, err
	}
	return peerViews(peers), nil
}

// ListAllPeers returns every peer of every node, by node and id.
func (s *Service) ListAllPeers(ctx context.Context) ([]PeerView, error) {
	peers, err := s.store.ListAllPeers(ctx)
	if err != nil {
		return nil, err
	}
	return peerViews(peers), nil
}

func peerViews(peers []store.Peer) []PeerView {
	out := make([]PeerView, len(peers))
	for i, p := range peers {
		out[i] = peerView(p)
	}
	return out
}

// GetPeer returns one peer, or an error wrapping store.ErrNotFound.
func (s *Service) GetPeer(ctx context.Context, id int64) (PeerView, error) {
	p, err := s.store.GetPeer(ctx, id)
	if err != nil {
		return PeerView{}, err
	}
	return peerView(p), nil
}

// peerAudit is what the audit log keeps about a peer: no key but the
// public one.
func peerAudit(p store.Peer) map[string]any {
	return map[string]any{
		"node_id":    p.NodeID,
		"name":       p.Name,
		"public_key": p.PublicKey.String(),
		"address4":   addrString(p.Address4),
		"address6":   addrString(p.Address6),
		"enabled":    p.Enabled,
		"status":     string(p.Status()),
	}
}

// CreatePeer adds a peer to node nodeID, or, when nodeID is 0, to the node
// in.NodeID names: a node id, or "auto" for the node PlaceNode picks (and,
// if that one turns out full, the next best). The controller makes the key
// pair when in has no public key, and takes the next free addresses from
// the node's pools unless in asks for one. The peer is stored pending:
// the Syncer applies it (pushed when it is a Pusher, see Pusher), so an
// agent that is down delays it and does not fail it.
//
// The public key must pass agentapi.CheckPeerKey against every node's
// interface key (see checkPeerKey).
//
// Errors: *ValidationError, store.ErrNotFound (node), store.ErrNodeFull,
// ipam.ErrPoolExhausted, store.ErrConflict (public key already on the
// node, or the address taken), ErrNoNodeAvailable.
func (s *Service) CreatePeer(ctx context.Context, actor Actor, nodeID int64, in PeerInput) (PeerView, error) {
	if err := checkActor(actor); err != nil {
		return PeerView{}, err
	}
	target, auto, err := peerTarget(nodeID, in.NodeID)
	if err != nil {
		return PeerView{}, err
	}
	if !auto {
		if in.Placement != nil {
			return PeerView{}, Invalid("placement", "applies only with node_id \"auto\"; leave it out when you choose the node")
		}
		return s.createPeerOn(ctx, actor, target, in, "")
	}
	if in.Address != nil && strings.TrimSpace(*in.Address) != "" {
		return PeerView{}, Invalid("address", "cannot be chosen together with node_id \"auto\"; pick the node too, or leave the address out")
	}
	var sel labels.Set
	if in.Placement != nil {
		if err := labels.Check(in.Placement.Labels); err != nil {
			return PeerView{}, Invalid("placement.labels", "%v", err)
		}
		sel = in.Placement.Labels
	}
	candidates, why, err := s.rankNodes(ctx, 0, sel)
	if err != nil {
		return PeerView{}, fmt.Errorf("placing peer: %w", err)
	}
	how := "auto"
	if len(sel) > 0 {
		how = "auto " + sel.String()
	}
	for _, n := range candidates {
		v, err := s.createPeerOn(ctx, actor, n.ID, in, how)
		if errors.Is(err, store.ErrNodeFull) || errors.Is(err, ipam.ErrPoolExhausted) {
			why = append(why, fmt.Sprintf("%s is full", n.Name))
			continue
		}
		return v, err
	}
	return PeerView{}, noNodeError(why, sel, false)
}

// peerTarget resolves where a new peer goes: the node in the path, or
// node_id from the body (a number, a numeric string, or "auto").
func peerTarget(pathNodeID int64, raw json.RawMessage) (id int64, auto bool, err error) {
	const field = "node_id"
	given := len(raw) > 0 && string(raw) != "null"
	if pathNodeID != 0 && !given {
		return pathNodeID, false, nil
	}
	if !given {
		return 0, false, Invalid(field, "is required: a node id, or \"auto\" to let the controller choose")
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		s = string(raw) // a JSON number
	}
	if s == "auto" {
		auto = true
	} else if id, err = strconv.ParseInt(strings.TrimSpace(s), 10, 64); err != nil || id <= 0 {
		return 0, false, Invalid(field, "must be a node id or \"auto\"")
	}
	if pathNodeID != 0 && (auto || id != pathNodeID) {
		return 0, false, Invalid(field, "does not match the node in the path")
	}
	return id, auto, nil
}

// createPeerOn validates in against the node and creates the peer in one
// transaction with its allocation, the bump and the audit entry.
func (s *Service) createPeerOn(ctx context.Context, actor Actor, nodeID int64, in PeerInput, placement string) (PeerView, error) {
	var (
		v    PeerView
		done []enforced
		gen  int64 // the generation the creation made
	)
	err := s.store.InTx(ctx, func(tx *store.Tx) error {
		var err error
		v, gen, done, err = s.createPeerTx(ctx, tx, actor, nodeID, in, map[string]any{"placement": placement})
		return err
	})
	if err != nil {
		return PeerView{}, fmt.Errorf("creating peer on node %d: %w", nodeID, err)
	}
	s.afterCreate(ctx, actor, done, v)
	if len(done) == 0 {
		s.push(v.NodeID, v.ID, gen) // enforceTx bumped nothing: gen is the creation's
	} else {
		s.trigger(v.NodeID)
	}
	return v, nil
}

// createPeerTx validates in against node nodeID and creates the peer
// inside tx: its allocation, the bump, the audit entry (with extra's
// non-empty values added to its details) and, for an expiry already
// past, its restriction. It returns the peer as it then is, the node's
// desired generation the creation made (enforceTx may have bumped it
// further: then done is not empty), and what enforceTx did, for
// afterCreate once tx is committed.
//
// This runs in the store's one writer for every creation, so it reads
// only what it needs (the node without its secret, GetPeerHome; not the
// peer it has just written) and runs the restriction check only for a
// peer that can be due one (an expiry or a data limit).
func (s *Service) createPeerTx(ctx context.Context, tx *store.Tx, actor Actor, nodeID int64, in PeerInput, extra map[string]any) (v PeerView, gen int64, done []enforced, err error) {
	node, err := tx.GetPeerHome(ctx, nodeID)
	if err != nil {
		return PeerView{}, 0, nil, err
	}
	p, _, err := peerFromInput(store.Peer{}, node, in, true)
	if err != nil {
		return PeerView{}, 0, nil, err
	}
	if err := checkPeerNameFree(ctx, tx, node, p.Name, 0); err != nil {
		return PeerView{}, 0, nil, err
	}
	if err := checkPeerKeyTx(ctx, tx, p.PublicKey); err != nil {
		return PeerView{}, 0, nil, err
	}
	created, gen, err := tx.CreatePeerOnNode(ctx, node, p)
	if err != nil {
		return PeerView{}, 0, nil, err
	}
	details := peerAudit(created)
	details["key_pair_generated"] = created.PrivateKey != nil
	details["has_psk"] = created.PresharedKey != nil
	for k, v := range extra {
		if v != "" && v != nil {
			details[k] = v
		}
	}
	if err := audit(ctx, tx, actor, "peer.create", "peer", created.ID, details); err != nil {
		return PeerView{}, 0, nil, err
	}
	// An expiry already past restricts the new peer at once. A peer with
	// neither an expiry nor a data limit has no restriction due (and one
	// with a limit has used nothing yet, but the rule is the store's).
	if !created.ExpiresAt.IsZero() || created.DataLimit > 0 {
		if done, err = s.enforceTx(ctx, tx, 0, created.ID); err != nil {
			return PeerView{}, 0, nil, err
		}
	}
	if len(done) > 0 {
		if created, err = tx.GetPeer(ctx, created.ID); err != nil {
			return PeerView{}, 0, nil, err
		}
	}
	v = peerView(created)
	v.createdOn = &store.Node{ID: node.ID, Name: node.Name, Enabled: node.Enabled, Status: node.Status}
	return v, gen, done, nil
}

// afterCreate logs, publishes and enforces what createPeerTx made, once
// its transaction is committed. The caller triggers the node.
func (s *Service) afterCreate(ctx context.Context, actor Actor, done []enforced, v PeerView) {
	s.log.Info("peer created", "peer_id", v.ID, "node_id", v.NodeID, "address4", v.Address4, "actor", string(actor))
	s.afterEnforce(ctx, done)
	message := fmt.Sprintf("peer %s was created by %s", v.Name, actor)
	if v.createdOn != nil {
		s.publishPeerOn(ctx, events.PeerCreated, v, *v.createdOn, message)
		return
	}
	s.publishPeer(ctx, events.PeerCreated, v, message)
}

// UpdatePeer changes the fields in gives. A new public key drops a stored
// private key (the client now holds its own); the address cannot change
// (see MovePeer). An update that changes nothing writes nothing. A new
// expiry or data limit takes effect in the same transaction (see
// EnforceLimits): an expiry moved into the future releases an expired
// peer, one in the past restricts it; when a lowered limit makes the limit
// action delete the peer, the answer shows it as it was, over_limit.
func (s *Service) UpdatePeer(ctx context.Context, actor Actor, id int64, in PeerInput) (PeerView, error) {
	if err := checkActor(actor); err != nil {
		return PeerView{}, err
	}
	if len(in.NodeID) > 0 && string(in.NodeID) != "null" {
		return PeerView{}, Invalid("node_id", "cannot change here; move the peer instead (POST /api/peers/{id}/move)")
	}
	if in.Placement != nil {
		return PeerView{}, Invalid("placement", "applies only when a peer is created with node_id \"auto\"; to choose another node, move the peer (POST /api/peers/{id}/move)")
	}
	var (
		v       PeerView
		changed []string
		done    []enforced
	)
	err := s.store.InTx(ctx, func(tx *store.Tx) error {
		old, err := tx.GetPeer(ctx, id)
		if err != nil {
			return err
		}
		node, err := tx.GetNode(ctx, old.NodeID)
		if err != nil {
			return err
		}
		var p store.Peer
		if p, changed, err = peerFromInput(old, node, in, false); err != nil {
			return err
		}
		if len(changed) == 0 {
			v = peerView(old)
			return nil
		}
		if p.Name != old.Name {
			if err := checkPeerNameFree(ctx, tx, node, p.Name, id); err != nil {
				return err
			}
		}
		if p.PublicKey != old.PublicKey {
			if err := checkPeerKeyTx(ctx, tx, p.PublicKey); err != nil {
				return err
			}
		}
		updated, err := tx.UpdatePeer(ctx, p)
		if err != nil {
			return err
		}
		details := peerAudit(updated)
		details["changed"] = changed
		if err := audit(ctx, tx, actor, "peer.update", "peer", id, details); err != nil {
			return err
		}
		if done, err = s.enforceTx(ctx, tx, 0, id); err != nil {
			return err
		}
		v = peerView(updated)
		if len(done) == 0 {
			return nil
		}
		if done[0].deleted {
			v.Status = string(store.PeerOverLimit)
			return nil
		}
		if updated, err = tx.GetPeer(ctx, id); err != nil {
			return err
		}
		v = peerView(updated)
		return nil
	})
	if err != nil {
		return PeerView{}, fmt.Errorf("updating peer %d: %w", id, err)
	}
	if len(changed) > 0 {
		s.log.Info("peer updated", "peer_id", id, "node_id", v.NodeID, "changed", changed, "actor", string(actor))
		s.afterEnforce(ctx, done)
		s.trigger(v.NodeID)
	}
	return v, nil
}

// DeletePeer deletes a peer and frees its addresses; the Syncer removes it
// from the agent.
func (s *Service) DeletePeer(ctx context.Context, actor Actor, id int64) error {
	if err := checkActor(actor); err != nil {
		return err
	}
	var deleted store.Peer
	err := s.store.InTx(ctx, func(tx *store.Tx) error {
		var err error
		if deleted, err = tx.DeletePeer(ctx, id); err != nil {
			return err
		}
		return audit(ctx, tx, actor, "peer.delete", "peer", id, peerAudit(deleted))
	})
	if err != nil {
		return fmt.Errorf("deleting peer %d: %w", id, err)
	}
	s.log.Info("peer deleted", "peer_id", id, "node_id", deleted.NodeID, "actor", string(actor))
	s.trigger(deleted.NodeID)
	s.publishPeer(ctx, events.PeerDeleted, peerView(deleted), fmt.Sprintf("peer %s was deleted by %s", deleted.Name, actor))
	return nil
}

// SetPeerEnabled allows (true) or restricts (false) a peer. A restricted
// peer stays in the database with its addresses but is taken off its
// node. Setting the current value changes nothing.
func (s *Service) SetPeerEnabled(ctx context.Context, actor Actor, id int64, enabled bool) (PeerView, error) {
	if err := checkActor(actor); err != nil {
		return PeerView{}, err
	}
	var (
		v       PeerView
		changed bool
	)
	err := s.store.InTx(ctx, func(tx *store.Tx) error {
		p, err := tx.GetPeer(ctx, id)
		if err != nil {
			return err
		}
		if changed = p.Enabled != enabled; changed {
			if err := tx.SetPeerEnabled(ctx, id, enabled); err != nil {
				return err
			}
			action := "peer.restrict"
			if enabled {
				action = "peer.allow"
			}
			if p, err = tx.GetPeer(ctx, id); err != nil {
				return err
			}
			if err := audit(ctx, tx, actor, action, "peer", id, peerAudit(p)); err != nil {
				return err
			}
		}
		v = peerView(p)
		return nil
	})
	if err != nil {
		return PeerView{}, fmt.Errorf("setting peer %d enabled: %w", id, err)
	}
	if changed {
		s.log.Info("peer enabled changed", "peer_id", id, "node_id", v.NodeID, "enabled", enabled, "actor", string(actor))
		s.trigger(v.NodeID)
	}
	return v, nil
}

// SearchPeers returns the peers of the whole fleet matching q, in id
// order, and whether more match after them (see store.PeerQuery).
func (s *Service) SearchPeers(ctx context.Context, q store.PeerQuery) ([]PeerView, bool, error) {
	peers, more, err := s.store.SearchPeers(ctx, q)
	if err != nil {
		return nil, false, err
	}
	return peerViews(peers), more, nil
}
