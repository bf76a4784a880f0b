package reconcile

import (
	"maps"
	"sync"
	"sync/atomic"
	"time"

	"golang.zx2c4.com/wireguard/wgctrl/wgtypes"
)

// nodeState is what the Reconciler keeps about one node between
// reconciles. It lives in memory only.
type nodeState struct {
	// run serializes the reconciles of the node: held from reading the
	// desired state to recording the result.
	//
	// Lock order: run, then the store's transactions and the agent
	// client's lock, each taken and released inside; mu last and alone.
	// A caller's lock held around a reconcile comes before run.
	run sync.Mutex
	// lastWrite is when the last reconcile that sent changes to the agent
	// had its last answer (time.Now, monotonic); zero before any. An
	// Observation read before it is stale. Guarded by run.
	lastWrite time.Time
	// confirmed is what the last reconcile found in line (see
	// confirmation); nil when it did not, and before any. Stored with
	// run held; Offer loads it without (see Reconciler.offer).
	confirmed atomic.Pointer[confirmation]

	mu sync.Mutex // guards the fields below; never held across a call
	// managed are the keys the controller knows it put on the agent (or
	// may have: a change whose answer was lost). A key there that the
	// database no longer has is the controller's own pending removal, not
	// a stranger. Lost when the controller restarts.
	managed keySet
	// pushedGens are generations above the acknowledged one whose change
	// was a creation a push confirmed (see recordPushed).
	pushedGens map[int64]bool
	// driftPrint identifies the out-of-band drift last reported, so the
	// same drift is counted and logged once, not on every poll.
	driftPrint string
	// What was seen of the agent: its dumps carry preshared keys
	// (shows), it cannot address keys containing '/' (noSlash), its PUT
	// and POST do not set (noPSKSet) or remove (noPSKRemove) a preshared
	// key. Lost when the controller restarts; found again by the next
	// change that meets it.
	shows, noSlash, noPSKSet, noPSKRemove bool
}

// showsPSK reports whether the agent's dumps were seen to carry
// preshared keys.
func (st *nodeState) showsPSK() bool {
	st.mu.Lock()
	defer st.mu.Unlock()
	return st.shows
}

// learnShowsPSK remembers that the agent's dumps carry preshared keys.
func (st *nodeState) learnShowsPSK(shows bool) {
	if shows {
		st.learn(func(st *nodeState) { st.shows = true })
	}
}

// learn runs fn under st.mu.
func (st *nodeState) learn(fn func(*nodeState)) {
	st.mu.Lock()
	defer st.mu.Unlock()
	fn(st)
}

// state returns the node's state, making it on first use.
func (r *Reconciler) state(nodeID int64) *nodeState {
	r.mu.Lock()
	defer r.mu.Unlock()
	st, ok := r.nodes[nodeID]
	if !ok {
		st = &nodeState{}
		r.nodes[nodeID] = st
	}
	return st
}

// dropState forgets a node that no longer exists.
func (r *Reconciler) dropState(nodeID int64) {
	r.mu.Lock()
	delete(r.nodes, nodeID)
	r.mu.Unlock()
}

// managedKeys returns a copy of the managed set.
func (st *nodeState) managedKeys() map[wgtypes.Key]bool {
	st.mu.Lock()
	managed := st.managed
	st.mu.Unlock()
	return managed.toMap()
}

// manage adds keys to the managed set: the controller put them on the
// agent, or may have.
func (st *nodeState) manage(keys ...wgtypes.Key) {
	st.mu.Lock()
	defer st.mu.Unlock()
	st.managed = st.managed.with(keys...)
}

// remember updates the managed set from what the agent holds after a
// reconcile: the keys it had, changed by what was applied, plus what may
// have been applied; of those, the desired ones and the ones already
// managed (a removal that did not go through yet).
func (st *nodeState) remember(c comparison, out *outcome) {
	after := maps.Clone(c.actualKeys)
	if out.bulk {
		after = maps.Clone(c.desiredKeys)
	}
	for _, it := range out.done {
		if out.bulk {
			break
		}
		if it.Kind == DriftUnknown {
			delete(after, it.key)
		} else {
			after[it.key] = true
		}
	}
	for _, k := range out.uncertain {
		after[k] = true
	}
	st.mu.Lock()
	defer st.mu.Unlock()
	next := make(map[wgtypes.Key]bool, len(c.desiredKeys))
	for k := range after {
		if c.desiredKeys[k] || st.managed.has(k) {
			next[k] = true
		}
	}
	st.managed = keySetOf(next)
}
