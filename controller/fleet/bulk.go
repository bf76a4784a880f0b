package fleet

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/wgfleet/wgfleet/controller/events"
	"github.com/wgfleet/wgfleet/controller/ipam"
	"github.com/wgfleet/wgfleet/controller/labels"
	"github.com/wgfleet/wgfleet/controller/store"
)

// MaxBulk is the most peers one bulk create makes and the most ids one
// bulk action takes.
const MaxBulk = 1000

// BulkPeerInput is the body of POST /api/peers/bulk: Count peers named
// NamePrefix followed by a number, each made as PeerInput says, the way
// CreatePeer makes one. PeerInput's NodeID is a node id or "auto"; its
// Name, PublicKey and Address are not taken (each peer gets its own), nor
// a PresharedKey other than "auto" or none.
type BulkPeerInput struct {
	Count      *int    `json:"count"`
	NamePrefix *string `json:"name_prefix"`
	PeerInput
}

// BulkCreateResult is the answer to a bulk create.
type BulkCreateResult struct {
	// IDs are the new peers' ids, in the order of their numbers.
	IDs []int64 `json:"ids"`
	// Peers are the new peers, in the same order.
	Peers []PeerView `json:"peers"`
	// Nodes counts the new peers of each node they went to, by node id.
	Nodes map[int64]int `json:"nodes"`
}

// CreatePeers makes in.Count peers named in.NamePrefix followed by a
// number, the numbers going on after the highest one a peer of the fleet
// already has with that prefix (laptop-1, laptop-2, ... after none); a
// number whose name a peer of the chosen node has in another letter case
// (Laptop-3) is skipped, so every name is free on its node. Each
// peer is validated and created like one of CreatePeer, with its own key
// pair and the next free address of its node, and audited as peer.create
// with "bulk": true. With node_id "auto" each peer goes, in turn, to the
// node placement ranks best counting the peers placed before it, so a
// batch spreads over the nodes as single creates would.
//
// It is all or nothing: the input is checked before anything is written,
// and every peer is created in ONE transaction, so a failure (a node
// full, a pool exhausted) creates none. Once committed, each node that got
// peers is triggered once, so its agent gets them in one reconcile, and
// each peer is announced as events.PeerCreated.
//
// Errors: those of CreatePeer, and *ValidationError for count,
// name_prefix and the fields a bulk create does not take.
func (s *Service) CreatePeers(ctx context.Context, actor Actor, in BulkPeerInput) (BulkCreateResult, error) {
	if err := checkActor(actor); err != nil {
		return BulkCreateResult{}, err
	}
	count, prefix, err := checkBulkInput(in)
	if err != nil {
		return BulkCreateResult{}, err
	}
	target, auto, err := peerTarget(0, in.NodeID)
	if err != nil {
		return BulkCreateResult{}, err
	}
	var (
		cands []candidate
		why   []string
		sel   labels.Set
		how   string
	)
	switch {
	case auto:
		if in.Placement != nil {
			if err := labels.Check(in.Placement.Labels); err != nil {
				return BulkCreateResult{}, Invalid("placement.labels", "%v", err)
			}
			sel = in.Placement.Labels
		}
		if cands, why, err = s.rankCandidates(ctx, 0, sel); err != nil {
			return BulkCreateResult{}, fmt.Errorf("placing peers: %w", err)
		}
		if len(cands) == 0 {
			return BulkCreateResult{}, noNodeError(why, sel, false)
		}
		how = "auto"
		if len(sel) > 0 {
			how = "auto " + sel.String()
		}
	case in.Placement != nil:
		return BulkCreateResult{}, Invalid("placement", "applies only with node_id \"auto\"; leave it out when you choose the node")
	}

	res := BulkCreateResult{IDs: make([]int64, 0, count), Peers: make([]PeerView, 0, count), Nodes: map[int64]int{}}
	var done []enforced
	err = s.store.InTx(ctx, func(tx *store.Tx) error {
		res.IDs, res.Peers, done = res.IDs[:0], res.Peers[:0], nil
		clear(res.Nodes)
		names, err := tx.PeerNamesWithPrefix(ctx, prefix)
		if err != nil {
			return err
		}
		next := nextNameNumber(prefix, names)
		// Placement's view of the nodes, updated with each peer placed.
		ranked := slices.Clone(cands)
		for len(res.IDs) < count {
			name := prefix + strconv.Itoa(next)
			next++
			if utf8.RuneCountInString(name) > MaxNameLen {
				return Invalid("name_prefix", "is too long: peer %s would be longer than %d characters", name, MaxNameLen)
			}
			one := in.PeerInput
			one.Name = &name
			one.NodeID = nil
			var (
				v PeerView
				d []enforced
			)
			if !auto {
				v, _, d, err = s.createPeerTx(ctx, tx, actor, target, one, map[string]any{"bulk": true})
			} else {
				v, d, ranked, err = s.createPlacedTx(ctx, tx, actor, ranked, one, how, &why)
				if errors.Is(err, ErrNoNodeAvailable) {
					return noNodeError(why, sel, false)
				}
			}
			if ce := (*ConflictError)(nil); errors.As(err, &ce) && ce.Field == "name" {
				continue // taken on that node in another letter case: the next number
			}
			if err != nil {
				return fmt.Errorf("peer %s: %w", name, err)
			}
			res.IDs = append(res.IDs, v.ID)
			res.Peers = append(res.Peers, v)
			res.Nodes[v.NodeID]++
			done = append(done, d...)
		}
		return nil
	})
	if err != nil {
		return BulkCreateResult{}, fmt.Errorf("creating %d peers: %w", count, err)
	}
	s.log.Info("peers created in bulk", "count", count, "name_prefix", prefix, "nodes", len(res.Nodes), "actor", string(actor))
	for _, v := range res.Peers {
		s.publishPeer(ctx, events.PeerCreated, v, fmt.Sprintf("peer %s was created by %s", v.Name, actor))
	}
	s.afterEnforce(ctx, done)
	for id := range res.Nodes {
		s.trigger(id)
	}
	return res, nil
}

// createPlacedTx creates one peer of a bulk create on the best of ranked,
// inside tx; a node found full or out of addresses is passed over (its
// reason added to why) for the next. It returns ranked updated with the
// new peer. ErrNoNodeAvailable when no node is left.
func (s *Service) createPlacedTx(ctx context.Context, tx *store.Tx, actor Actor, ranked []candidate, in PeerInput, how string, why *[]string) (PeerView, []enforced, []candidate, error) {
	for len(ranked) > 0 {
		best := ranked[0]
		if best.node.MaxPeers > 0 && best.peers >= best.node.MaxPeers {
			*why = append(*why, fmt.Sprintf("%s is full (%d of %d peers)", best.node.Name, best.peers, best.node.MaxPeers))
			ranked = ranked[1:]
			continue
		}
		v, _, d, err := s.createPeerTx(ctx, tx, actor, best.node.ID, in, map[string]any{"bulk": true, "placement": how})
		if errors.Is(err, store.ErrNodeFull) || errors.Is(err, ipam.ErrPoolExhausted) {
			*why = append(*why, fmt.Sprintf("%s is full", best.node.Name))
			ranked = ranked[1:]
			continue
		}
		if err != nil {
			return PeerView{}, nil, ranked, err
		}
		ranked[0].peers++
		slices.SortStableFunc(ranked, compareCandidates)
		return v, d, ranked, nil
	}
	return PeerView{}, nil, ranked, ErrNoNodeAvailable
}

// checkBulkInput checks what a bulk create takes beyond one peer's input.
func checkBulkInput(in BulkPeerInput) (count int, prefix string, err error) {
	switch {
	case in.Count == nil:
		return 0, "", Invalid("count", "is required: how many peers to create, 1 to %d", MaxBulk)
	case *in.Count < 1 || *in.Count > MaxBulk:
		return 0, "", Invalid("count", "must be from 1 to %d, not %d", MaxBulk, *in.Count)
	case in.NamePrefix == nil:
		return 0, "", Invalid("name_prefix", "is required: the peers are named name_prefix followed by a number (laptop-1, laptop-2, ...)")
	case in.Name != nil:
		return 0, "", Invalid("name", "is not taken by a bulk create: the peers are named name_prefix followed by a number")
	case strings.TrimSpace(deref(in.PublicKey)) != "":
		return 0, "", Invalid("public_key", "is not taken by a bulk create: the controller makes each peer's key pair")
	case strings.TrimSpace(deref(in.Address)) != "":
		return 0, "", Invalid("address", "is not taken by a bulk create: each peer gets the next free address of its node")
	}
	if psk := strings.TrimSpace(deref(in.PresharedKey)); psk != "" && psk != pskAuto {
		return 0, "", Invalid("preshared_key", "must be \"auto\" (a key of each peer's own) or empty in a bulk create")
	}
	prefix = strings.TrimLeft(*in.NamePrefix, " ")
	if prefix == "" {
		return 0, "", Invalid("name_prefix", "is required: 1 to %d characters, such as laptop-", MaxNameLen-1)
	}
	if _, err := checkName("name_prefix", prefix+"1", true); err != nil {
		return 0, "", err
	}
	return *in.Count, prefix, nil
}

// nextNameNumber is the number the next peer named prefix+number gets:
// one above the highest such number in names, 1 when there is none. Only
// names that are prefix followed by decimal digits count.
func nextNameNumber(prefix string, names []string) int {
	highest := 0
	for _, name := range names {
		digits, ok := strings.CutPrefix(name, prefix)
		if !ok || digits == "" || strings.Trim(digits, "0123456789") != "" {
			continue
		}
		n, err := strconv.Atoi(digits)
		if err != nil || n >= 1<<40 {
			continue // absurdly long: numbering does not follow it
		}
		highest = max(highest, n)
	}
	return highest + 1
}
