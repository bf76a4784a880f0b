package fleet

import (
	"cmp"
	"context"
	"fmt"
	"math/bits"
	"slices"
	"strings"

	"github.com/wgfleet/wgfleet/controller/labels"
	"github.com/wgfleet/wgfleet/controller/store"
)

// unlimitedCapacity is the capacity a node with max_peers 0 (unlimited)
// counts with when its load is compared to other nodes'.
const unlimitedCapacity = 1_000_000

// PlaceNode picks the node a new peer should go to: among the enabled
// nodes whose status is online, whose weight is above 0 and that are not
// full, the one with the lowest load, where load is peers / max_peers
// (max_peers 0, unlimited, counts as a capacity of 1,000,000) divided by
// weight, so a node of weight 200 takes twice the share of one of weight
// 100. Ties go to the node with fewer peers, then the lower id. A node
// that is offline, disabled, full or of weight 0 is never chosen; when no
// node fits the error wraps ErrNoNodeAvailable and says why each was
// passed over.
//
// Only nodes carrying every label of sel are considered (any node for an
// empty sel); the error then names the selector.
func (s *Service) PlaceNode(ctx context.Context, sel labels.Set) (store.Node, error) {
	candidates, why, err := s.rankNodes(ctx, 0, sel)
	if err != nil {
		return store.Node{}, fmt.Errorf("placing peer: %w", err)
	}
	if len(candidates) == 0 {
		return store.Node{}, noNodeError(why, sel, false)
	}
	return candidates[0], nil
}

// candidate is a node with its peer count.
type candidate struct {
	node  store.Node
	peers int
}

// rankNodes returns the nodes that carry every label of sel and may take
// a peer, best first, leaving out exclude (0 for none), and for the other
// nodes carrying sel why they may not. Nodes without sel's labels are
// neither candidates nor reasons.
func (s *Service) rankNodes(ctx context.Context, exclude int64, sel labels.Set) ([]store.Node, []string, error) {
	cands, why, err := s.rankCandidates(ctx, exclude, sel)
	out := make([]store.Node, len(cands))
	for i, c := range cands {
		out[i] = c.node
	}
	return out, why, err
}

// rankCandidates is rankNodes with each node's peer count.
func (s *Service) rankCandidates(ctx context.Context, exclude int64, sel labels.Set) ([]candidate, []string, error) {
	var (
		cands []candidate
		why   []string
	)
	err := s.store.View(ctx, func(tx *store.Tx) error {
		nodes, err := tx.ListNodesMatching(ctx, sel)
		if err != nil {
			return err
		}
		for _, n := range nodes {
			if n.ID == exclude {
				continue
			}
			count, err := tx.CountPeers(ctx, n.ID)
			if err != nil {
				return err
			}
			switch {
			case !n.Enabled:
				why = append(why, n.Name+" is disabled")
			case n.Status != store.NodeOnline:
				why = append(why, fmt.Sprintf("%s is %s", n.Name, n.Status))
			case n.Weight <= 0:
				why = append(why, n.Name+" has weight 0")
			case n.MaxPeers > 0 && count >= n.MaxPeers:
				why = append(why, fmt.Sprintf("%s is full (%d of %d peers)", n.Name, count, n.MaxPeers))
			default:
				cands = append(cands, candidate{node: n, peers: count})
			}
		}
		return nil
	})
	if err != nil {
		return nil, nil, err
	}
	slices.SortStableFunc(cands, compareCandidates)
	return cands, why, nil
}

// compareCandidates orders candidates best first: the lower load, then
// fewer peers, then the lower id.
func compareCandidates(a, b candidate) int {
	if c := compareLoad(a, b); c != 0 {
		return c
	}
	if c := cmp.Compare(a.peers, b.peers); c != 0 {
		return c
	}
	return cmp.Compare(a.node.ID, b.node.ID)
}

// compareLoad compares peers/capacity/weight of two candidates exactly:
// a.peers * b.capacity * b.weight against b.peers * a.capacity * a.weight,
// in 128 bits.
func compareLoad(a, b candidate) int {
	capacity := func(c candidate) uint64 {
		if c.node.MaxPeers > 0 {
			return uint64(c.node.MaxPeers)
		}
		return unlimitedCapacity
	}
	lhsHi, lhsLo := bits.Mul64(uint64(a.peers)*capacity(b), uint64(b.node.Weight))
	rhsHi, rhsLo := bits.Mul64(uint64(b.peers)*capacity(a), uint64(a.node.Weight))
	if c := cmp.Compare(lhsHi, rhsHi); c != 0 {
		return c
	}
	return cmp.Compare(lhsLo, rhsLo)
}

// noNodeError explains why automatic placement found no node among those
// carrying sel; other is set when the node being emptied was left out
// (drain, move).
func noNodeError(why []string, sel labels.Set, other bool) error {
	switch {
	case len(why) > 0 && len(sel) == 0:
		return fmt.Errorf("%w: automatic placement needs an enabled, online node of weight above 0 with room: %s",
			ErrNoNodeAvailable, strings.Join(why, "; "))
	case len(why) > 0:
		return fmt.Errorf("%w: automatic placement needs an enabled, online node of weight above 0 with room and labels %s: %s",
			ErrNoNodeAvailable, sel, strings.Join(why, "; "))
	case len(sel) > 0 && other:
		return fmt.Errorf("%w: no other node has labels %s", ErrNoNodeAvailable, sel)
	case len(sel) > 0:
		return fmt.Errorf("%w: no node has labels %s", ErrNoNodeAvailable, sel)
	case other:
		return fmt.Errorf("%w: there is no other node to move peers to", ErrNoNodeAvailable)
	}
	return fmt.Errorf("%w: there are no nodes; add one first", ErrNoNodeAvailable)
}
