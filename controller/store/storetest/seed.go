package storetest

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/base64"
	"fmt"
	"net/netip"
	"testing"
	"time"

	"github.com/wgfleet/wgfleet/controller/store"
)

// seedWords are the first parts of seeded peers' names.
var seedWords = [...]string{"laptop", "phone", "desk", "tablet", "router", "cam", "tv", "watch"}

// SeedPeers writes perNode peers on each of nodes (already in the store)
// straight into the SQLite database file at path, in one transaction
// beside the store's own connection: a fleet of 100k peers in seconds, for
// benchmarks and measurements at fleet scale. Peer n of the seed (from 0,
// across nodes) is named WORD-n (laptop-0, phone-1, ...), has a random
// public key (no private key), the next address of its node's IPv4 pool
// after the node's own, and a status by n: every 20th restricted by hand,
// every 50th expired (an expiry an hour before the seed), every 100th
// over its limit (a limit of 1 byte, which its traffic passed), the rest
// active; the controller's limit enforcement keeps each so. It returns
// the number of peers written. The seed's connection may cache up to
// 256 MiB of pages (a million random keys go into the indexes in one
// transaction; with SQLite's default 2 MiB each insert read its index
// pages back). Every peer is written as applied: the
// agents are assumed to hold them already (see SeedPendingPeers).
func SeedPeers(tb testing.TB, path string, nodes []store.Node, perNode int) int {
	tb.Helper()
	n, _ := seedPeers(tb, path, nodes, perNode, false)
	return n
}

// SeedPendingPeers writes the same peers as SeedPeers, but as if created
// while the agents were away: every peer pending and every node's
// desired generation bumped, in the same transaction as the peers, so
// that no reader ever sees a seeded peer as applied (a poll that did
// would count its absence from the agent as drift). It returns the
// number of peers written and how many of them belong on an agent
// (enabled and not restricted).
func SeedPendingPeers(tb testing.TB, path string, nodes []store.Node, perNode int) (seeded, forAgents int) {
	tb.Helper()
	return seedPeers(tb, path, nodes, perNode, true)
}

// seedPeers is SeedPeers, or SeedPendingPeers when pending.
func seedPeers(tb testing.TB, path string, nodes []store.Node, perNode int, pending bool) (seeded, forAgents int) {
	tb.Helper()
	db, err := sql.Open("sqlite3", path+"?_journal_mode=WAL&_foreign_keys=on&_busy_timeout=10000&_txlock=immediate&_cache_size=-262144")
	if err != nil {
		tb.Fatal(err)
	}
	defer db.Close()
	ctx := context.Background()
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		tb.Fatal(err)
	}
	defer func() { _ = tx.Rollback() }()
	peerStmt, err := tx.PrepareContext(ctx, `INSERT INTO peers
		(node_id, iface, name, public_key, address4, allowed_ips, client_allowed_ips, enabled, sync_state,
		 restriction, expires_at, data_limit_bytes, rx_total, tx_total, created_at, updated_at)
		VALUES (?, ?, ?, ?, ?, ?, '0.0.0.0/0, ::/0', ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`)
	if err != nil {
		tb.Fatal(err)
	}
	allocStmt, err := tx.PrepareContext(ctx, `INSERT INTO ip_allocations (node_id, ip, peer_id) VALUES (?, ?, ?)`)
	if err != nil {
		tb.Fatal(err)
	}
	state := store.SyncApplied
	if pending {
		state = store.SyncPending
	}
	now := time.Now().Unix()
	key := make([]byte, 32)
	n := 0
	for _, node := range nodes {
		addr := node.IPPool.Addr().Next() // the node's own
		for range perNode {
			if addr = addr.Next(); !node.IPPool.Contains(addr) {
				tb.Fatalf("seeding node %s: pool %s holds fewer than %d peers", node.Name, node.IPPool, perNode)
			}
			if _, err := rand.Read(key); err != nil {
				tb.Fatal(err)
			}
			enabled, restriction, limit := 1, "", int64(0)
			var expires any // NULL: never
			switch {
			case n%20 == 0:
				enabled = 0
			case n%50 == 1:
				restriction, expires = string(store.RestrictExpired), now-3600
			case n%100 == 3:
				restriction, limit = string(store.RestrictOverLimit), 1
			}
			var id int64
			if err := peerStmt.QueryRowContext(ctx, node.ID, node.WGInterface, fmt.Sprintf("%s-%d", seedWords[n%len(seedWords)], n),
				base64.StdEncoding.EncodeToString(key), addr.String(), netip.PrefixFrom(addr, 32).String(),
				enabled, string(state), restriction, expires, limit, int64(n)*1000, int64(n)*3000, now, now).Scan(&id); err != nil {
				tb.Fatalf("seeding peer %d: %v", n, err)
			}
			if _, err := allocStmt.ExecContext(ctx, node.ID, addr.String(), id); err != nil {
				tb.Fatalf("seeding peer %d's address: %v", n, err)
			}
			if enabled == 1 && restriction == "" {
				forAgents++
			}
			n++
		}
		if pending {
			if _, err := tx.ExecContext(ctx, "UPDATE nodes SET desired_generation = desired_generation + 1 WHERE id = ?", node.ID); err != nil {
				tb.Fatalf("seeding node %s's generation: %v", node.Name, err)
			}
		}
	}
	if err := tx.Commit(); err != nil {
		tb.Fatal(err)
	}
	return n, forAgents
}
