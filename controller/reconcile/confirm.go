package reconcile

import (
	"context"
	"fmt"

	"golang.zx2c4.com/wireguard/wgctrl/wgtypes"

	"github.com/wgfleet/wgfleet/agent/agentapi"
	"github.com/wgfleet/wgfleet/controller/store"
)

// confirmation is what the Reconciler remembers of a reconcile that found
// its node in line: the agent's dump (dump, its digest) showed exactly the
// desired peers of generation gen, nothing was left to do, every peer was
// recorded as applied and gen as acknowledged. Until the node's desired
// generation moves, its peers in the database are the ones that dump was
// compared with (every change to a node's desired peers bumps it in the
// same transaction), so a later dump with the same digest compares the
// same: in line, nothing to do. It lives in nodeState, in memory only: a
// controller that starts again compares in full.
type confirmation struct {
	gen   int64
	iface string
	// own is the node's interface key as its agent last reported it, which
	// screen holds peers against.
	own wgtypes.Key
	// showsPSK is whether the agent was known to show preshared keys,
	// which decides how a dump is compared.
	showsPSK bool
	dump     dumpDigest
	// since are the peers that pushes put on the agent after dump was
	// read, each confirmed by a read of the agent after its add, by their
	// keys' text: what the next dump shows beside dump's peers (see
	// extended). A push that does not confirm everything it sent leaves
	// no confirmation at all.
	since map[string]sincePush
}

// sincePush is one peer a push confirmed: the generation its creation
// made, and its configuration as sent.
type sincePush struct {
	gen  int64
	want peerConf
}

// maxSince bounds the pushes a confirmation carries; beyond it the node
// is compared in full once (a poll of the node has not come for that
// long).
const maxSince = 1024

// addPushed records on c the peers a push confirmed (gens: each one's
// creation's generation), and reports false when c cannot carry them
// (then the caller forgets c).
func (c *confirmation) addPushed(peers []*item, gens map[int64]int64) bool {
	if len(c.since)+len(peers) > maxSince {
		return false
	}
	if c.since == nil {
		c.since = make(map[string]sincePush, len(peers))
	}
	for _, it := range peers {
		g := gens[it.peer.ID]
		if g <= c.gen {
			return false // not known to be a creation after c's generation
		}
		c.since[it.key.String()] = sincePush{gen: g, want: it.want}
	}
	return true
}

// extended returns the confirmation c carried over the pushes since it
// (c.since) when actual, a dump whose digest is d, shows exactly c's
// dump and the pushed peers as they were sent; nil otherwise. Its
// generation is the highest of c's and the pushes'. It is true of the
// node's desired peers provided every generation above the one a
// reconcile confirmed up to it is a creation whose push was recorded
// here: the push recorder acknowledges a generation only when every one
// up to it is a creation a push confirmed (confirmGenerations), holds asks
// for that acknowledgement, and a push that does not confirm what it sent
// drops the confirmation. Pushes may come out of their generations'
// order: the set is the same.
func (c *confirmation) extended(actual []agentapi.Peer, d dumpDigest) *confirmation {
	if len(c.since) == 0 {
		return nil
	}
	top := c.gen
	rest := make([]agentapi.Peer, 0, len(actual))
	seen := 0
	for _, ap := range actual {
		sp, ok := c.since[ap.PublicKey]
		if !ok {
			rest = append(rest, ap)
			continue
		}
		got, ok := actualConf(ap, c.showsPSK)
		if !ok || len(observableDiff(sp.want, got, c.showsPSK)) != 0 {
			return nil
		}
		seen++
		top = max(top, sp.gen)
	}
	if seen != len(c.since) || digestDump(rest) != c.dump {
		return nil
	}
	return &confirmation{gen: top, iface: c.iface, own: c.own, showsPSK: c.showsPSK, dump: d}
}

// holds reports whether node, as read now, and a dump with digest d are
// still the ones c confirmed, with the agent known to show preshared keys
// or not as then.
func (c *confirmation) holds(node store.NodeSync, d dumpDigest, showsPSK bool) bool {
	return node.Enabled && node.DesiredGeneration == c.gen && node.AckedGeneration == c.gen &&
		node.WGInterface == c.iface && node.ServerPublicKey == c.own && showsPSK == c.showsPSK && d == c.dump
}

// confirm remembers on st what a reconcile of node that ended in line
// compared last (final: its dump, and how preshared keys were compared),
// or forgets what st remembered when it did not end in line: inLine is
// false, or the desired generation it worked from was not acknowledged.
// st.run is held.
func (st *nodeState) confirm(node store.Node, final comparison, inLine bool) {
	st.confirmed.Store(nil)
	if !inLine {
		return
	}
	st.confirmed.Store(&confirmation{
		gen: node.DesiredGeneration, iface: node.WGInterface, own: node.ServerPublicKey,
		showsPSK: final.showsPSK, dump: digestDump(final.actual),
	})
}

// reconcileUnchanged is the reconcile of a node whose offered dump, obs,
// is the one last confirmed (see confirmation), or that and the peers
// pushed since (confirmation.extended): it reads only the few columns of
// the node that say so (store.Tx.GetNodeSync), not its peers, and records
// what a full reconcile would: no current drift, checked now. When the
// node's desired generation has moved past the confirmation only by
// creations whose pushes are waiting or under way (pushesUnderWay), it
// records the same without acknowledging anything and leaves those peers
// to their pushes (Result.Pushing), where a full reconcile would send
// them too and each push would then find its peer there. It reports
// false, having done nothing, when the node or the dump is not what was
// confirmed (or the node could not be read): then the caller reconciles
// in full. st.run is held.
func (r *Reconciler) reconcileUnchanged(ctx context.Context, st *nodeState, nodeID int64, obs *Observation) (Result, bool, error) {
	base := st.confirmed.Load()
	if base == nil {
		return Result{}, false, nil
	}
	c := base
	d := obs.digestOf()
	if d != c.dump {
		// The dump may be c's and the peers pushed since; an offer that
		// kept only the digest (of a confirmed dump, when offered) cannot
		// show them.
		if obs.onlyDigest() {
			return Result{}, false, nil
		}
		if c = c.extended(obs.Peers, d); c == nil {
			return Result{}, false, nil
		}
	}
	var ns store.NodeSync
	err := r.store.ViewOne(ctx, func(tx *store.Tx) error { // every poll of a quiet node: one statement
		var err error
		ns, err = tx.GetNodeSync(ctx, nodeID)
		return err
	})
	if err != nil {
		return Result{}, false, nil
	}
	pushing := !c.holds(ns, d, st.showsPSK())
	if pushing && !r.pushesUnderWay(base, c, ns, d, st.showsPSK()) {
		return Result{}, false, nil
	}
	if !pushing {
		st.confirmed.Store(c)
	}
	// What record and report use of a node.
	node := store.Node{ID: ns.ID, Name: ns.Name, Enabled: ns.Enabled, WGInterface: ns.WGInterface,
		ServerPublicKey: ns.ServerPublicKey, DesiredGeneration: ns.DesiredGeneration,
		AckedGeneration: ns.AckedGeneration, DriftPolicy: ns.DriftPolicy, Status: ns.Status}
	res := Result{NodeID: nodeID, Generation: node.DesiredGeneration, Acked: !pushing,
		Drift: []Drift{}, DriftAfter: []Drift{}, Unchanged: !pushing, Pushing: pushing}
	if err := r.record(context.WithoutCancel(ctx), node, plan{}, &outcome{}, !pushing, 0); err != nil {
		st.confirmed.Store(nil)
		return res, true, fmt.Errorf("reconciling node %s: recording: %w", node.Name, err)
	}
	r.report(ctx, node, node.DriftPolicy, comparison{}, plan{}, st)
	return res, true, nil
}

// pushesUnderWay reports whether node ns differs from what the agent was
// seen to hold only by creations whose pushes are still to come: the
// agent's dump (digest d) is exactly what base confirmed and the peers
// pushed since (c: base itself, or base extended over them), the node is
// on with the interface and key base knew, and every generation above
// base's up to the node's desired one is either such a pushed creation or
// one whose push waits for the node or is under way (its push worker
// waits for the node's lock, which the caller holds). Those peers are then
// not drift but on their way; a push that fails ends in a reconcile, and a
// dropped one (this replica stops leading) leaves its generation
// unacknowledged, so the next poll compares in full.
func (r *Reconciler) pushesUnderWay(base, c *confirmation, ns store.NodeSync, d dumpDigest, showsPSK bool) bool {
	if !ns.Enabled || ns.WGInterface != base.iface || ns.ServerPublicKey != base.own || showsPSK != base.showsPSK ||
		d != c.dump || ns.DesiredGeneration <= base.gen {
		return false
	}
	if len(base.since) > 0 && c == base {
		return false // the dump is base's alone: the peers pushed since are gone from the agent
	}
	gens := make(map[int64]bool, len(base.since)+4)
	for _, sp := range base.since {
		gens[sp.gen] = true
	}
	r.pq.addGens(ns.ID, gens)
	if ns.DesiredGeneration-base.gen > int64(len(gens)) {
		return false
	}
	for g := base.gen + 1; g <= ns.DesiredGeneration; g++ {
		if !gens[g] {
			return false
		}
	}
	return true
}
