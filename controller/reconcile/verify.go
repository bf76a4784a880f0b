package reconcile

import (
	"context"
	"fmt"
	"strings"

	"golang.zx2c4.com/wireguard/wgctrl/wgtypes"

	"github.com/wgfleet/wgfleet/controller/agentclient"
	"github.com/wgfleet/wgfleet/controller/store"
)

// Reasons a change the agent answered with success did not take, in
// words, for Drift.Reason and the peer's sync error.
const (
	ReasonSlashKey   = "this agent cannot address keys containing '/'"
	ReasonPSKRemove  = "this agent cannot remove a preshared key"
	ReasonPSKSet     = "this agent does not take a peer's new preshared key"
	reasonNotApplied = "the agent answered success, but its dump does not show the change"
)

// verifier checks what an applier claimed against the agent's dump: a
// change counts as applied only when a dump read after it shows it.
type verifier struct {
	a       *applier
	iface   string
	peers   []store.Peer
	managed map[wgtypes.Key]bool
	st      *nodeState
	own     wgtypes.Key // the interface's own key, for screen
}

// check reads the agent's peers after the changes of a.out and keeps in
// a.out.done only what the dump shows. An add or update that the dump does
// not show is made again by POST, which some agents take as an update
// where their PUT fails (the seed's reference agent: keys containing '/',
// preshared keys), and the peers are read again. What still does not show
// moves to a.out.unconfirmed with the reason in words. It returns the
// comparison of the last dump read and true, or false when that read got
// no good answer (then nothing counts as confirmed, and a.out.err says
// why).
func (v *verifier) check(ctx context.Context, before comparison) (comparison, bool) {
	after, ok := v.read(ctx)
	if !ok {
		return before, false
	}
	left := v.unconfirmed(after)
	if len(left) == 0 {
		return after, true
	}
	retried := false
	for _, it := range left {
		if it.Kind == DriftUnknown || v.a.posted[it] {
			continue
		}
		if err := v.a.add(ctx, it.want); err == nil {
			v.a.posted[it] = true
			retried = true
		} else if verdict, _ := judge(err); verdict == callAbort {
			break
		}
	}
	if retried {
		if after, ok = v.read(ctx); !ok {
			return before, false
		}
		left = v.unconfirmed(after)
	}
	still := make(map[wgtypes.Key]*item, len(after.items))
	for _, it := range after.items {
		still[it.key] = it
	}
	drop := make(map[*item]bool, len(left))
	for _, it := range left {
		drop[it] = true
		reason := v.reason(it, still[it.key])
		v.a.out.unconfirmed = append(v.a.out.unconfirmed, refusal{it: it, msg: reason})
	}
	kept := v.a.out.done[:0]
	for _, it := range v.a.out.done {
		if !drop[it] {
			kept = append(kept, it)
		}
	}
	v.a.out.done = kept
	return after, true
}

// read reads the agent's peers and compares them with the database's.
func (v *verifier) read(ctx context.Context) (comparison, bool) {
	v.a.out.calls++
	d, err := v.a.client.Dump(ctx, v.iface)
	if err != nil {
		v.a.out.err = fmt.Errorf("node %s: reading peers after the changes: %w", v.a.node, agentclient.Classify(err))
		return comparison{}, false
	}
	c := compare(v.iface, v.peers, d.Peers, v.managed, v.st.showsPSK())
	screen(&c, v.own)
	v.st.learnShowsPSK(c.showsPSK)
	return c, true
}

// unconfirmed returns the done changes that the comparison after them
// still shows as differences.
func (v *verifier) unconfirmed(after comparison) []*item {
	still := make(map[wgtypes.Key]*item, len(after.items))
	for _, it := range after.items {
		still[it.key] = it
	}
	var out []*item
	for _, it := range v.a.out.done {
		if s := still[it.key]; s != nil && !onlyBlind(s) {
			out = append(out, it)
		}
	}
	return out
}

// onlyBlind reports whether it differs only in the preshared key the dump
// cannot show: as confirmed as a change can be on such an agent.
func onlyBlind(it *item) bool {
	return it.Kind == DriftDifferent && it.blind && len(it.Fields) == 1
}

// reason says why the change of it did not take; now is how the peer
// differs after it (nil: it does not).
func (v *verifier) reason(it, now *item) string {
	if strings.Contains(it.PublicKey, "/") && v.a.notFound[it.key] {
		v.st.learn(func(st *nodeState) { st.noSlash = true })
		return ReasonSlashKey
	}
	if now != nil && now.Kind == DriftDifferent && len(now.Fields) == 1 && now.Fields[0] == FieldPresharedKey {
		if it.want.psk == nil {
			v.st.learn(func(st *nodeState) { st.noPSKRemove = true })
			return ReasonPSKRemove
		}
		v.st.learn(func(st *nodeState) { st.noPSKSet = true })
		return ReasonPSKSet
	}
	if now != nil && len(now.Fields) > 0 {
		return reasonNotApplied + " (" + strings.Join(now.Fields, ", ") + ")"
	}
	return reasonNotApplied
}

// explain sets the Reason of each difference of c that this agent was
// found unable to repair.
func (st *nodeState) explain(c comparison) {
	st.mu.Lock()
	defer st.mu.Unlock()
	for _, it := range c.items {
		switch {
		case st.noSlash && it.Kind == DriftUnknown && strings.Contains(it.PublicKey, "/"):
			it.Reason = ReasonSlashKey
		case it.Kind == DriftDifferent && len(it.Fields) == 1 && it.Fields[0] == FieldPresharedKey && !it.blind:
			if it.want.psk == nil && st.noPSKRemove {
				it.Reason = ReasonPSKRemove
			} else if it.want.psk != nil && st.noPSKSet {
				it.Reason = ReasonPSKSet
			}
		}
	}
}

// afterDrifts is the differences the dump read after the changes shows,
// without the confirmed changes that differ only in the preshared key the
// dump cannot show.
func afterDrifts(after comparison, out *outcome) []Drift {
	done := make(map[wgtypes.Key]bool, len(out.done))
	for _, it := range out.done {
		done[it.key] = true
	}
	ds := make([]Drift, 0, len(after.items))
	for _, it := range after.items {
		if done[it.key] && onlyBlind(it) {
			continue
		}
		ds = append(ds, it.Drift)
	}
	return ds
}
