package reconcile

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"

	"golang.zx2c4.com/wireguard/wgctrl/wgtypes"

	"github.com/wgfleet/wgfleet/agent/agentapi"
	"github.com/wgfleet/wgfleet/controller/agentclient"
)

// outcome is what applying a plan did.
type outcome struct {
	calls   int
	bulk    bool // one replace-all did it all
	done    []*item
	refused []refusal
	// unconfirmed are changes the agent answered with success that a
	// dump read after them does not show, with the reason in words.
	unconfirmed []refusal
	// counted is the counter (added, updated, removed) each done change
	// was counted in.
	counted                 map[*item]*int
	added, updated, removed int
	// uncertain are keys sent to the agent in an add or update whose
	// answer never came: the agent may hold them.
	uncertain []wgtypes.Key
	// err is why applying stopped before the end: the agent did not
	// answer (wraps ErrUnreachable) or failed as a whole.
	err error
}

// refusal is a change the agent answered with a 4xx of its own, or with
// a 500 to that change alone (see callFailed).
type refusal struct {
	it  *item
	msg string
}

// changed reports whether anything was applied.
func (o *outcome) changed() bool { return o.added+o.updated+o.removed > 0 }

// counterOf is the counter a done change of it counts in (by its kind).
func counterOf(o *outcome, it *item) *int {
	switch it.Kind {
	case DriftUnknown:
		return &o.removed
	case DriftDifferent:
		return &o.updated
	}
	return &o.added
}

// countDone takes the changes no longer in done (not confirmed) out of
// the counters they were counted in.
func (o *outcome) countDone() {
	done := make(map[*item]bool, len(o.done))
	for _, it := range o.done {
		done[it] = true
	}
	for it, c := range o.counted {
		if !done[it] && *c > 0 {
			*c--
		}
	}
}

// verdict sorts the error of one agent call.
type verdict int

const (
	callOK      verdict = iota
	callRefused         // the agent refused this change alone (4xx): record it, go on
	// callFailed: the agent answered 500, its failure to carry out this
	// request. An agent's device refusing one peer looks like this (agents
	// before issue 10 answered 500 for a peer holding the interface's own
	// key), and so does a fault of the whole agent: a replace-all falls
	// back to one call per peer, and single calls record the peer and go
	// on; when every single call fails so, the agent is at fault.
	callFailed
	callAbort // no answer, or a fault of the agent as a whole: stop
)

// judge sorts err. 401, 403, 408 and 429 are about the node's secret or
// load, not the peer, so they stop the run like a 502, 503 or 504 does.
func judge(err error) (verdict, *agentapi.APIError) {
	if err == nil {
		return callOK, nil
	}
	var ae *agentapi.APIError
	if !errors.As(err, &ae) {
		return callAbort, nil
	}
	switch ae.StatusCode {
	case http.StatusBadRequest, http.StatusNotFound, http.StatusConflict,
		http.StatusRequestEntityTooLarge, http.StatusUnprocessableEntity, http.StatusMethodNotAllowed:
		return callRefused, ae
	case http.StatusInternalServerError:
		return callFailed, ae
	}
	return callAbort, ae
}

// applier sends one plan to one agent interface.
type applier struct {
	client *agentapi.Client
	iface  string
	node   string // for errors
	out    outcome
	// failed counts single calls answered 500 (callFailed), lastFailed
	// is the last of them.
	failed     int
	lastFailed error
	// notFound are keys a DELETE or PUT answered 404 for; posted are
	// changes a POST answered with success for.
	notFound map[wgtypes.Key]bool
	posted   map[*item]bool
}

func newApplier(client *agentapi.Client, iface, node string) *applier {
	a := &applier{client: client, iface: iface, node: node, notFound: map[wgtypes.Key]bool{}, posted: map[*item]bool{}}
	a.out.counted = map[*item]*int{}
	return a
}

func (a *applier) fail(verb string, k wgtypes.Key, err error) {
	a.out.err = fmt.Errorf("node %s: %s peer %s: %w", a.node, verb, k, agentclient.Classify(err))
}

// bulkFits reports whether a replace-all of confs stays inside limit, the
// body limit the agent advertised (agentclient.Pool.MaxBodyBytes).
func bulkFits(confs []peerConf, limit int64) (agentapi.SyncRequest, bool) {
	req := agentapi.SyncRequest{Peers: make([]agentapi.PeerSpec, 0, len(confs))}
	for _, s := range confs {
		req.Peers = append(req.Peers, s.peerSpec())
	}
	body, err := json.Marshal(req)
	return req, err == nil && int64(len(body)) <= limit
}

// sync replaces the whole peer set. It reports false when the agent
// refused the replace-all or failed it with a 500, so the caller falls
// back to single calls: one peer the agent cannot take must not keep the
// others off it.
func (a *applier) sync(ctx context.Context, req agentapi.SyncRequest, p plan) bool {
	a.out.calls++
	res, err := a.client.SyncPeers(ctx, a.iface, req)
	switch v, _ := judge(err); v {
	case callOK:
		a.out.bulk = true
		a.out.added, a.out.updated, a.out.removed = res.Added, res.Updated, res.Removed
		for _, it := range slices.Concat(p.deletes, p.updates, p.adds) {
			if it.Problem != "" {
				a.out.refused = append(a.out.refused, refusal{it: it, msg: it.Problem})
				continue
			}
			a.out.done = append(a.out.done, it)
			a.out.counted[it] = counterOf(&a.out, it)
		}
		return true
	case callRefused:
		return false
	case callFailed:
		// The agent may have taken part of it before failing.
		for _, it := range append(p.updates, p.adds...) {
			a.out.uncertain = append(a.out.uncertain, it.key)
		}
		return false
	}
	for _, it := range append(p.updates, p.adds...) {
		a.out.uncertain = append(a.out.uncertain, it.key)
	}
	a.out.err = fmt.Errorf("node %s: replacing the peer set: %w", a.node, agentclient.Classify(err))
	return true
}

// single applies the plan one peer at a time: removals first (they may
// free allowed IPs a later peer takes), then updates, then additions. It
// stops at the first call that gets no answer or fails for the whole agent.
// A change answered 500 is recorded against its peer and the others go
// on; if every change was answered so (two or more), the agent failed as a
// whole and that is the outcome's error too.
func (a *applier) single(ctx context.Context, p plan) {
	a.singleCalls(ctx, p)
	if a.out.err == nil && a.failed >= 2 && len(a.out.done) == 0 && a.failed == len(a.out.refused) {
		a.out.err = fmt.Errorf("node %s: the agent failed every change (%d): %w", a.node, a.failed, a.lastFailed)
	}
}

func (a *applier) singleCalls(ctx context.Context, p plan) {
	for _, it := range p.deletes {
		a.out.calls++
		err := a.client.DeletePeer(ctx, a.iface, it.key)
		if errors.Is(err, agentapi.ErrNotFound) {
			// Already gone, or the agent cannot address the key: the
			// dump read after the changes tells.
			a.notFound[it.key] = true
			err = nil
		}
		if !a.settle(it, "removing", err, &a.out.removed) {
			return
		}
	}
	for _, it := range p.updates {
		if !a.put(ctx, it, false) {
			return
		}
	}
	for _, it := range p.adds {
		if !a.put(ctx, it, true) {
			return
		}
	}
}

// put makes the agent hold it.want, by POST when add is set and by PUT
// otherwise, falling back to the other when the agent's state was not what
// the comparison saw (409 on POST: it is there already; 404 on PUT: it is
// gone). It reports whether to go on.
func (a *applier) put(ctx context.Context, it *item, add bool) bool {
	if it.Problem != "" { // no agent can take it (see screen)
		a.out.refused = append(a.out.refused, refusal{it: it, msg: it.Problem})
		return true
	}
	first, counter, verb := a.update, &a.out.updated, "updating"
	second, secondCounter := a.add, &a.out.added
	fallback := agentapi.ErrNotFound
	if add {
		first, counter, verb = a.add, &a.out.added, "adding"
		second, secondCounter = a.update, &a.out.updated
		fallback = agentapi.ErrConflict
	}
	err := first(ctx, it.want)
	if errors.Is(err, fallback) {
		if !add {
			a.notFound[it.key] = true
		}
		err2 := second(ctx, it.want)
		if err2 == nil {
			if !add {
				a.posted[it] = true
			}
			return a.settle(it, verb, nil, secondCounter)
		}
		// A refused POST says best why the peer was refused (a PUT
		// after it only adds "not found"); after a PUT, the POST does.
		if v, _ := judge(err2); v == callAbort || !add {
			err = err2
		}
	}
	if v, _ := judge(err); v == callAbort || v == callFailed {
		a.out.uncertain = append(a.out.uncertain, it.key)
	}
	if err == nil && add {
		a.posted[it] = true
	}
	return a.settle(it, verb, err, counter)
}

func (a *applier) add(ctx context.Context, s peerConf) error {
	a.out.calls++
	_, err := a.client.AddPeer(ctx, a.iface, s.addRequest())
	return err
}

func (a *applier) update(ctx context.Context, s peerConf) error {
	a.out.calls++
	return a.client.UpdatePeer(ctx, a.iface, s.key, s.updateRequest())
}

// settle records the result of one change and reports whether to go on.
func (a *applier) settle(it *item, verb string, err error, counter *int) bool {
	switch v, ae := judge(err); v {
	case callOK:
		a.out.done = append(a.out.done, it)
		*counter++
		a.out.counted[it] = counter
	case callRefused:
		a.out.refused = append(a.out.refused, refusal{it: it, msg: ae.Error()})
	case callFailed:
		a.failed++
		a.lastFailed = ae
		a.out.refused = append(a.out.refused, refusal{it: it, msg: ae.Error()})
	default:
		a.fail(verb, it.key, err)
		return false
	}
	return true
}
