package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/netip"
	"sync"

	"github.com/wgfleet/wgfleet/controller/ipam"
)

// allocHints spare a creation the read of every address of its node
// (allocatedAddrs, O(peers) rows): for each node, the addresses the last
// creation through this Store took as the lowest free ones, the peer
// that took them and the node's desired generation its bump made. While
// the node's generation is still that one and that peer still holds that
// address, nothing changed the node's addresses since: every change to a
// node's peers (a creation, a deletion, a move in or out) bumps its
// generation in the same transaction, whichever controller makes it, and
// a creation rolled back takes its bump and its row with it. Every
// address below the hint's was taken then and is still, so the lowest
// free one is the first free after it, found by looking up each candidate
// (usually the first). Anything else (no hint, a moved generation, a
// requested address) reads the node's addresses as before. The database's
// uniqueness of (node, address) stays the arbiter. Held in memory only,
// per Store; safe for concurrent use.
type allocHints struct {
	mu sync.Mutex
	m  map[int64]allocHint
}

// allocHint is what the last creation on one node took.
type allocHint struct {
	gen          int64
	peer         int64
	addr4, addr6 netip.Addr // addr6 zero when the node has no IPv6 pool
}

// maxHintProbes bounds the candidates looked up after a hint before the
// node's addresses are read instead.
const maxHintProbes = 16

func newAllocHints() *allocHints { return &allocHints{m: make(map[int64]allocHint)} }

func (h *allocHints) get(node int64) (allocHint, bool) {
	if h == nil {
		return allocHint{}, false
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	a, ok := h.m[node]
	return a, ok
}

func (h *allocHints) set(node int64, a allocHint) {
	if h == nil {
		return
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	h.m[node] = a
}

func (h *allocHints) drop(node int64) {
	if h == nil {
		return
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	delete(h.m, node)
}

// hintedAddrs returns the lowest free addresses of node's pools by the
// node's hint (see allocHints), and false when the hint does not hold or
// leads nowhere: then the caller reads the node's addresses. node is as
// read in this transaction (its DesiredGeneration included).
func (tx *Tx) hintedAddrs(ctx context.Context, node Node) (a4, a6 netip.Addr, ok bool, err error) {
	h, found := tx.hints.get(node.ID)
	if !found || h.gen != node.DesiredGeneration || !h.addr4.IsValid() || h.addr6.IsValid() != node.IPPool6.IsValid() {
		return netip.Addr{}, netip.Addr{}, false, nil
	}
	var peer int64
	err = tx.tx.QueryRowContext(ctx, "SELECT peer_id FROM ip_allocations WHERE node_id = ? AND ip = ?", node.ID, h.addr4.String()).Scan(&peer)
	if errors.Is(err, sql.ErrNoRows) || err == nil && peer != h.peer {
		return netip.Addr{}, netip.Addr{}, false, nil
	}
	if err != nil {
		return netip.Addr{}, netip.Addr{}, false, fmt.Errorf("reading allocations: %w", err)
	}
	if a4, ok, err = tx.firstFreeAfter(ctx, node, h.addr4); !ok || err != nil {
		return netip.Addr{}, netip.Addr{}, false, err
	}
	if h.addr6.IsValid() {
		if a6, ok, err = tx.firstFreeAfter(ctx, node, h.addr6); !ok || err != nil {
			return netip.Addr{}, netip.Addr{}, false, err
		}
	}
	return a4, a6, true, nil
}

// firstFreeAfter returns the first usable address of after's pool on node
// above after that no allocation of the node holds, and false when none
// is found within maxHintProbes (or the pool ends first).
func (tx *Tx) firstFreeAfter(ctx context.Context, node Node, after netip.Addr) (netip.Addr, bool, error) {
	pool := node.IPPool
	if after.Is6() {
		pool = node.IPPool6
	}
	cand := after
	for range maxHintProbes {
		cand = cand.Next()
		if !cand.IsValid() || ipam.CheckUsable(pool, cand) != nil {
			return netip.Addr{}, false, nil
		}
		var one int
		err := tx.tx.QueryRowContext(ctx, "SELECT 1 FROM ip_allocations WHERE node_id = ? AND ip = ?", node.ID, cand.String()).Scan(&one)
		if errors.Is(err, sql.ErrNoRows) {
			return cand, true, nil
		}
		if err != nil {
			return netip.Addr{}, false, fmt.Errorf("reading allocations: %w", err)
		}
	}
	return netip.Addr{}, false, nil
}
