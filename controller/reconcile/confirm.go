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
	st.confirmed = nil
	if !inLine {
		return
	}
	st.confirmed = &confirmation{
		gen: node.DesiredGeneration, iface: node.WGInterface, own: node.ServerPublicKey,
		showsPSK: final.showsPSK, dump: digestDump(final.actual),
	}
}

// reconcileUnchanged is the reconcile of a node whose dump, actual, is the
// one last confirmed (see confirmation): it reads only the few columns of
// the node that say so (store.Tx.GetNodeSync), not its peers, and records what a full reconcile would: no current drift,
// checked now. It reports false, having done nothing, when the node or
// the dump is not what was confirmed (or the node could not be read):
// then the caller reconciles in full. st.run is held.
func (r *Reconciler) reconcileUnchanged(ctx context.Context, st *nodeState, nodeID int64, actual []agentapi.Peer) (Result, bool, error) {
	c := st.confirmed
	if c == nil {
		return Result{}, false, nil
	}
	d := digestDump(actual)
	if d != c.dump {
		return Result{}, false, nil
	}
	var ns store.NodeSync
	err := r.store.View(ctx, func(tx *store.Tx) error {
		var err error
		ns, err = tx.GetNodeSync(ctx, nodeID)
		return err
	})
	if err != nil || !c.holds(ns, d, st.showsPSK()) {
		return Result{}, false, nil
	}
	// What record and report use of a node.
	node := store.Node{ID: ns.ID, Name: ns.Name, Enabled: ns.Enabled, WGInterface: ns.WGInterface,
		ServerPublicKey: ns.ServerPublicKey, DesiredGeneration: ns.DesiredGeneration,
		AckedGeneration: ns.AckedGeneration, DriftPolicy: ns.DriftPolicy, Status: ns.Status}
	res := Result{NodeID: nodeID, Generation: node.DesiredGeneration, Acked: true,
		Drift: []Drift{}, DriftAfter: []Drift{}, Unchanged: true}
	if err := r.record(context.WithoutCancel(ctx), node, plan{}, &outcome{}, true, 0); err != nil {
		st.confirmed = nil
		return res, true, fmt.Errorf("reconciling node %s: recording: %w", node.Name, err)
	}
	r.report(ctx, node, node.DriftPolicy, comparison{}, plan{}, st)
	return res, true, nil
}

// extendConfirmation carries what st confirmed (prev, taken from it when
// the push sent its adds) over a push whose every peer the dump read after
// it showed as desired: pushed are those peers, gens the generation each
// one's creation made, dump the agent's peers as that dump gave them,
// shows whether it was compared with preshared keys. When the dump less
// the pushed peers is exactly the dump prev confirmed (same digest), the
// node's desired peers at the highest of gens (or prev's generation, if
// higher) are prev's and the pushed ones, provided every generation above
// the one a reconcile confirmed up to it is a creation whose push extended
// the confirmation in turn: the push recorder acknowledges a generation
// only when every one up to it is a confirmed creation
// (confirmGenerations), holds asks for that acknowledgement, and a push
// that confirms without extending leaves no confirmation. Pushes may come
// out of their generations' order: the earlier creation's push then
// extends one that already counts the later one's generation. So the
// new confirmation (that generation, the whole dump's digest) lets the
// next poll of an unchanged agent be compared by digest, as after a
// reconcile, where otherwise every poll during a burst of creations read
// the node's whole set. Anything else leaves st with no confirmation: a
// push that does not extend it must not leave one that leaves it out.
// st.run is held.
func (st *nodeState) extendConfirmation(prev *confirmation, node store.Node, dump []agentapi.Peer, shows bool, pushed []*store.Peer, gens map[int64]int64) {
	st.confirmed = nil
	if prev == nil || !node.Enabled || prev.iface != node.WGInterface || prev.own != node.ServerPublicKey ||
		prev.showsPSK != shows || len(pushed) == 0 {
		return
	}
	top := prev.gen
	keys := make(map[string]bool, len(pushed))
	for _, p := range pushed {
		g := gens[p.ID]
		if g <= 0 {
			return // not known to be a creation
		}
		top = max(top, g)
		keys[p.PublicKey.String()] = true
	}
	rest := make([]agentapi.Peer, 0, len(dump))
	for _, ap := range dump {
		if !keys[ap.PublicKey] {
			rest = append(rest, ap)
		}
	}
	if len(rest) != len(dump)-len(keys) || digestDump(rest) != prev.dump {
		return
	}
	st.confirmed = &confirmation{gen: top, iface: prev.iface, own: prev.own, showsPSK: shows, dump: digestDump(dump)}
}
