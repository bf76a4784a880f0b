package reconcile

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/wgfleet/wgfleet/controller/events"
	"github.com/wgfleet/wgfleet/controller/store"
)

// record writes the outcome of a reconcile: peers the agent took (and
// pending peers whose desired state already held) become applied, refused
// ones carry the agent's message, with ack the generation read at the
// start is acknowledged, and current (see remainingDrift) becomes the
// node's current drift, checked now.
//
// A peer is only marked if its desired state is still the one that was
// sent: when the node's desired generation moved since the snapshot, each
// peer is read again and compared, preshared key included, so a change
// made during the reconcile stays pending for the next one.
func (r *Reconciler) record(ctx context.Context, node store.Node, pl plan, out *outcome, ack bool, current int) error {
	type mark struct {
		p     *store.Peer
		state store.SyncState
		msg   string
	}
	var marks []mark
	for _, it := range out.done {
		if it.peer != nil {
			marks = append(marks, mark{it.peer, store.SyncApplied, ""})
		}
	}
	for _, p := range pl.settled {
		marks = append(marks, mark{p, store.SyncApplied, ""})
	}
	for _, rf := range append(slices.Clone(out.refused), out.unconfirmed...) {
		if rf.it.peer != nil {
			marks = append(marks, mark{rf.it.peer, store.SyncError, rf.msg})
		}
	}
	return r.store.InTx(ctx, func(tx *store.Tx) error {
		if r.fence != nil {
			if err := r.fence.Check(ctx, tx); err != nil {
				return err
			}
		}
		err := tx.SetCurrentDrift(ctx, node.ID, current)
		if errors.Is(err, store.ErrNodeNotFound) {
			return nil // deleted meanwhile, with its peers: nothing to record
		}
		if err != nil {
			return err
		}
		if len(marks) == 0 && (!ack || node.AckedGeneration >= node.DesiredGeneration) {
			return nil
		}
		cur, err := tx.GetNode(ctx, node.ID)
		if err != nil {
			return err
		}
		moved := cur.DesiredGeneration != node.DesiredGeneration
		for _, m := range marks {
			if !moved && m.p.SyncState == m.state && m.p.SyncError == m.msg {
				continue
			}
			if moved {
				now, err := tx.GetPeer(ctx, m.p.ID)
				if errors.Is(err, store.ErrPeerNotFound) {
					continue
				}
				if err != nil {
					return err
				}
				if now.OnNode() != m.p.OnNode() || now.Iface != m.p.Iface || !sameDesired(desiredConf(&now), desiredConf(m.p)) {
					continue
				}
			}
			if err := tx.SetPeerSyncState(ctx, m.p.ID, m.state, m.msg); err != nil {
				return err
			}
		}
		if ack {
			return tx.SetAckedGeneration(ctx, node.ID, node.DesiredGeneration)
		}
		return nil
	})
}

// remainingDrift counts the out-of-band differences of c (not the
// controller's own pending changes) that the agent still has after out:
// every one the reconcile did not apply, whether the policy left it
// alone, the agent refused it, or the agent stopped answering before it.
func remainingDrift(c comparison, out *outcome) int {
	done := make(map[*item]bool, len(out.done))
	for _, it := range out.done {
		done[it] = true
	}
	n := 0
	for _, it := range c.items {
		if !it.Pending && !done[it] {
			n++
		}
	}
	return n
}

// outOfBand counts the out-of-band differences of c: the agent's drift
// as c's dump shows it, not the controller's own pending changes.
func outOfBand(c comparison) int {
	n := 0
	for _, it := range c.items {
		if !it.Pending {
			n++
		}
	}
	return n
}

// report counts and logs out-of-band drift (not the controller's own
// pending changes) once per distinct set of differences: the node's drift
// count grows by one each time new drift is seen, whether the policy then
// repaired it or only reported it.
func (r *Reconciler) report(ctx context.Context, node store.Node, policy store.DriftPolicy, c comparison, pl plan, st *nodeState) {
	var (
		lines                       []string
		missing, unknown, different int
		keys                        []string
	)
	for _, it := range c.items {
		if it.Pending {
			continue
		}
		switch it.Kind {
		case DriftMissing:
			missing++
		case DriftUnknown:
			unknown++
		case DriftDifferent:
			different++
		}
		lines = append(lines, string(it.Kind)+" "+it.PublicKey+" "+strings.Join(it.Fields, ","))
		if len(keys) < maxLoggedKeys {
			keys = append(keys, it.PublicKey)
		}
	}
	print := ""
	if len(lines) > 0 {
		sum := sha256.Sum256([]byte(strings.Join(lines, "\n")))
		print = hex.EncodeToString(sum[:])
	}
	st.mu.Lock()
	seen := st.driftPrint == print
	st.driftPrint = print
	st.mu.Unlock()
	if seen {
		return
	}
	if print == "" {
		r.log.Info("node drift cleared", "node", node.Name, "node_id", node.ID)
		return
	}
	count, err := r.store.RecordDrift(context.WithoutCancel(ctx), node.ID)
	if err != nil {
		r.log.Error("recording drift", "node", node.Name, "node_id", node.ID, "err", err)
	}
	r.log.Warn("node drift", "node", node.Name, "node_id", node.ID, "policy", string(policy),
		"missing", missing, "unknown", unknown, "different", different,
		"left_alone", len(pl.reported), "peers", keys, "drift_count", count)
	r.events.Publish(context.WithoutCancel(ctx), events.Event{
		Type: events.NodeDrift, At: r.now().UTC(),
		Node: &events.Node{ID: node.ID, Name: node.Name, Status: string(node.Status), Drift: missing + unknown + different},
		Message: fmt.Sprintf("node %s drifted from its desired state: %d missing, %d unknown, %d different (policy %s)",
			node.Name, missing, unknown, different, policy),
	})
}

// maxLoggedKeys bounds the public keys one drift log line names.
const maxLoggedKeys = 10
