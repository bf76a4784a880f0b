package fleet

import (
	"context"
	"fmt"
	"time"

	"github.com/wgfleet/wgfleet/controller/events"
	"github.com/wgfleet/wgfleet/controller/store"
)

// enforced is one automatic change EnforceLimits made to a peer.
type enforced struct {
	change   store.RestrictionChange
	peer     store.Peer // as it was before the change
	nodeName string
	deleted  bool // its limit action deleted it
}

// EnforceLimits applies the peers' expiry and data limits at the
// service's clock, to the peers of node nodeID, or of every node when
// nodeID is 0: a peer whose expires_at passed is restricted (status
// expired), a peer whose usage reached its data limit is restricted
// (over_limit) or deleted, as its limit_action says, and a peer restricted
// so whose expiry moved into the future or whose usage is below its limit
// again (a raised limit, a reset) is released. Each change is written with
// an audit entry by the system actor in one transaction; then the changed
// nodes are triggered and each restriction is emitted as an event
// (events.PeerExpired, events.PeerOverLimit). The agent only counts as
// changed when the reconciler sees it so (a restricted peer is off the
// agent when its dump no longer shows it).
//
// The poller calls it for each node after recording its traffic, and the
// controller for every node at least once a minute.
func (s *Service) EnforceLimits(ctx context.Context, nodeID int64) error {
	// Most calls find nothing due: look first with a read of one
	// statement (ViewOne), which does not wait for the writer, and take
	// the write transaction (which looks again) only when something is.
	var due []store.RestrictionChange
	err := s.store.ViewOne(ctx, func(tx *store.Tx) error {
		var err error
		due, err = tx.DueRestrictions(ctx, s.now(), nodeID, 0)
		return err
	})
	if err != nil {
		return fmt.Errorf("enforcing expiry and data limits: %w", err)
	}
	if len(due) == 0 {
		return nil
	}
	var done []enforced
	err = s.store.InTx(ctx, func(tx *store.Tx) error {
		var err error
		done, err = s.enforceTx(ctx, tx, nodeID, 0)
		return err
	})
	if err != nil {
		return fmt.Errorf("enforcing expiry and data limits: %w", err)
	}
	s.afterEnforce(ctx, done)
	return nil
}

// enforceTx makes the changes EnforceLimits describes inside tx, for the
// peers of nodeID or the one peer peerID (0: any), and returns them for
// afterEnforce once tx is committed.
func (s *Service) enforceTx(ctx context.Context, tx *store.Tx, nodeID, peerID int64) ([]enforced, error) {
	changes, err := tx.DueRestrictions(ctx, s.now(), nodeID, peerID)
	if err != nil {
		return nil, err
	}
	done := make([]enforced, 0, len(changes))
	for _, c := range changes {
		p, err := tx.GetPeer(ctx, c.PeerID)
		if err != nil {
			return nil, err
		}
		node, err := tx.GetNode(ctx, c.NodeID)
		if err != nil {
			return nil, err
		}
		e := enforced{change: c, peer: p, nodeName: node.Name}
		details := peerAudit(p)
		details["usage_bytes"] = c.Usage
		details["data_limit_bytes"] = c.DataLimit
		if !c.ExpiresAt.IsZero() {
			details["expires_at"] = c.ExpiresAt
		}
		var action string
		switch c.To {
		case store.RestrictExpired:
			action = "peer.expire"
		case store.RestrictOverLimit:
			action = "peer.over_limit"
			details["limit_action"] = string(c.LimitAction)
		default:
			action = "peer.release"
			details["was"] = string(c.From)
		}
		if c.To == store.RestrictOverLimit && c.LimitAction == store.LimitDelete {
			if _, err := tx.DeletePeer(ctx, c.PeerID); err != nil {
				return nil, err
			}
			e.deleted = true
		} else if err := tx.SetPeerRestriction(ctx, c.PeerID, c.To); err != nil {
			return nil, err
		}
		if err := audit(ctx, tx, ActorSystem, action, "peer", c.PeerID, details); err != nil {
			return nil, err
		}
		done = append(done, e)
	}
	return done, nil
}

// afterEnforce logs, triggers and publishes what enforceTx did, once it
// is committed.
func (s *Service) afterEnforce(ctx context.Context, done []enforced) {
	nodes := make(map[int64]bool)
	for _, e := range done {
		c := e.change
		nodes[c.NodeID] = true
		attrs := []any{"peer_id", c.PeerID, "node_id", c.NodeID, "name", e.peer.Name}
		ev := events.Event{At: s.now(),
			Node: &events.Node{ID: c.NodeID, Name: e.nodeName},
			Peer: &events.Peer{ID: c.PeerID, NodeID: c.NodeID, Name: e.peer.Name, PublicKey: e.peer.PublicKey.String(),
				Address4: addrString(e.peer.Address4), Address6: addrString(e.peer.Address6)},
		}
		label := peerLabel(e.peer)
		switch c.To {
		case store.RestrictExpired:
			s.log.Info("peer expired; restricted", append(attrs, "expires_at", c.ExpiresAt)...)
			ev.Type = events.PeerExpired
			ev.Message = fmt.Sprintf("peer %s expired at %s; it is off node %s", label, c.ExpiresAt.Format(time.RFC3339), e.nodeName)
		case store.RestrictOverLimit:
			s.log.Info("peer reached its data limit", append(attrs, "usage_bytes", c.Usage, "data_limit_bytes", c.DataLimit,
				"limit_action", string(c.LimitAction))...)
			ev.Type = events.PeerOverLimit
			outcome := "it is off node " + e.nodeName
			if e.deleted {
				outcome = "it was deleted from node " + e.nodeName
			}
			ev.Message = fmt.Sprintf("peer %s used %d bytes of its %d-byte data limit; %s", label, c.Usage, c.DataLimit, outcome)
		default:
			s.log.Info("peer released from its restriction", append(attrs, "was", string(c.From))...)
		}
		if ev.Type != "" {
			s.events.Publish(ctx, ev)
		}
		if e.deleted {
			s.publishPeerOn(ctx, events.PeerDeleted, peerView(e.peer), store.Node{ID: c.NodeID, Name: e.nodeName},
				fmt.Sprintf("peer %s was deleted: it reached its data limit, whose action is delete", label))
		}
	}
	for id := range nodes {
		s.trigger(id)
	}
}

// ResetUsage starts counting a peer's usage again (usage_bytes becomes 0)
// and, in the same transaction, releases it when its data limit was what
// kept it off its node.
func (s *Service) ResetUsage(ctx context.Context, actor Actor, id int64) (PeerView, error) {
	if err := checkActor(actor); err != nil {
		return PeerView{}, err
	}
	var (
		v    PeerView
		done []enforced
	)
	err := s.store.InTx(ctx, func(tx *store.Tx) error {
		p, err := tx.GetPeer(ctx, id)
		if err != nil {
			return err
		}
		if err := tx.ResetPeerUsage(ctx, id); err != nil {
			return err
		}
		details := peerAudit(p)
		details["usage_bytes"] = p.Usage()
		if err := audit(ctx, tx, actor, "peer.reset_usage", "peer", id, details); err != nil {
			return err
		}
		if done, err = s.enforceTx(ctx, tx, 0, id); err != nil {
			return err
		}
		if p, err = tx.GetPeer(ctx, id); err != nil {
			return err
		}
		v = peerView(p)
		return nil
	})
	if err != nil {
		return PeerView{}, fmt.Errorf("resetting the usage of peer %d: %w", id, err)
	}
	s.log.Info("peer usage reset", "peer_id", id, "node_id", v.NodeID, "actor", string(actor))
	s.afterEnforce(ctx, done)
	return v, nil
}
