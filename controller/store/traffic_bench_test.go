package store

import (
	"context"
	"fmt"
	"net/netip"
	"os"
	"strconv"
	"testing"
	"time"

	"golang.zx2c4.com/wireguard/wgctrl/wgtypes"
)

// BenchmarkTrafficHistory fills the traffic history of 10,000 peers (10
// nodes of 1,000; -short: 1,000 peers) over 30 days through the real
// write path (one RecordTraffic per node and poll) and the real rollup,
// with every peer busy in every bucket: the worst case, since only
// buckets with traffic have a row. The 29 older days are polled once an
// hour (an hour row is one row however many minutes went into it); the
// last 24 hours once a minute, with the rollup every 5 minutes. It
// reports the rows of each tier and the SQLite file's size after a WAL
// checkpoint (pages in use), per peer too; how long one node's dump of
// 1,000 peers takes to record, and how long the rollup of one hour of
// every peer takes (the write lock it holds). SQLite only.
// WGFLEET_TRAFFIC_PEERS and WGFLEET_TRAFFIC_DAYS size it.
func BenchmarkTrafficHistory(b *testing.B) {
	if onPostgres() {
		b.Skip("measures the SQLite file")
	}
	peers, days := 10_000, 30
	if testing.Short() {
		peers = 1_000
	}
	if v, err := strconv.Atoi(os.Getenv("WGFLEET_TRAFFIC_PEERS")); err == nil && v > 0 {
		peers = v
	}
	if v, err := strconv.Atoi(os.Getenv("WGFLEET_TRAFFIC_DAYS")); err == nil && v > 1 {
		days = v
	}
	const perNode = 1_000
	for range b.N {
		b.StopTimer()
		ctx := context.Background()
		path := b.TempDir() + "/traffic.db"
		s, _ := openAt(b, path, testBox(b, 1))
		// The nodes and their peers, one transaction per node.
		var nodes []int64
		byNode := map[int64][]int64{}
		for i := 0; len(nodes)*perNode < peers; i++ {
			n := testNode(fmt.Sprintf("n%d", i))
			n.IPPool = netip.MustParsePrefix(fmt.Sprintf("10.%d.0.0/20", i))
			n.IPPool6 = netip.Prefix{}
			n = mustCreateNode(b, s, n)
			nodes = append(nodes, n.ID)
			if err := s.InTx(ctx, func(tx *Tx) error {
				for j := 0; j < perNode && len(nodes)*perNode-perNode+j < peers; j++ {
					k, err := wgtypes.GeneratePrivateKey()
					if err != nil {
						return err
					}
					p, err := tx.CreatePeerWithAllocation(ctx, Peer{NodeID: n.ID, Name: fmt.Sprintf("p%d", j), PublicKey: k.PublicKey(), Enabled: true})
					if err != nil {
						return err
					}
					byNode[n.ID] = append(byNode[n.ID], p.ID)
				}
				return nil
			}); err != nil {
				b.Fatal(err)
			}
		}
		deltas := func(ids []int64, seed int64) []TrafficDelta {
			out := make([]TrafficDelta, len(ids))
			for i, id := range ids {
				// Counts of a few KiB to a few MiB a minute: varints of 2 to 4 bytes.
				out[i] = TrafficDelta{PeerID: id, Rx: 1 + (seed*7919+id*104729)%(4<<20), Tx: 1 + (seed*6151+id*15485863)%(64<<10)}
			}
			return out
		}
		poll := func(at time.Time) time.Duration {
			var worst time.Duration
			for _, n := range nodes {
				d := deltas(byNode[n], at.Unix())
				start := time.Now()
				if err := s.InTx(ctx, func(tx *Tx) error { return tx.RecordTraffic(ctx, n, at, d) }); err != nil {
					b.Fatal(err)
				}
				worst = max(worst, time.Since(start))
			}
			return worst
		}
		roll := func(at time.Time) TrafficRollup {
			r, err := s.RollupTraffic(ctx, at)
			if err != nil {
				b.Fatal(err)
			}
			return r
		}

		end := time.Date(2026, 11, 30, 0, 0, 0, 0, time.UTC)
		start := end.Add(-time.Duration(days) * 24 * time.Hour)
		dense := end.Add(-24 * time.Hour)
		b.StartTimer()
		for at := start; at.Before(dense); at = at.Add(time.Hour) {
			poll(at.Add(30 * time.Minute))
			roll(at.Add(time.Hour))
		}
		var (
			recordWorst time.Duration
			hourRollups []time.Duration
		)
		for at := dense; at.Before(end); at = at.Add(time.Minute) {
			recordWorst = max(recordWorst, poll(at.Add(30*time.Second)))
			if at.Minute()%5 == 4 {
				t0 := time.Now()
				if r := roll(at.Add(time.Minute)); r.Hours > 0 {
					hourRollups = append(hourRollups, time.Since(t0))
				}
			}
		}
		b.StopTimer()

		counts, err := s.trafficRows(ctx)
		if err != nil {
			b.Fatal(err)
		}
		var total int64
		for _, n := range counts {
			total += n
		}
		var pageSize, pages, free int64
		if _, err := s.db.ExecContext(ctx, "PRAGMA wal_checkpoint(TRUNCATE)"); err != nil {
			b.Fatal(err)
		}
		for q, v := range map[string]*int64{"PRAGMA page_size": &pageSize, "PRAGMA page_count": &pages, "PRAGMA freelist_count": &free} {
			if err := s.db.QueryRowContext(ctx, q).Scan(v); err != nil {
				b.Fatal(err)
			}
		}
		fi, err := os.Stat(path)
		if err != nil {
			b.Fatal(err)
		}
		var rollupMax time.Duration
		for _, d := range hourRollups {
			rollupMax = max(rollupMax, d)
		}
		used := (pages - free) * pageSize
		b.ReportMetric(float64(peers), "peers")
		b.ReportMetric(float64(counts["peer_traffic/1m0s"]), "minute-rows")
		b.ReportMetric(float64(counts["peer_traffic/1h0m0s"]), "hour-rows")
		b.ReportMetric(float64(counts["peer_traffic/24h0m0s"]), "day-rows")
		b.ReportMetric(float64(total), "rows")
		b.ReportMetric(float64(fi.Size())/(1<<20), "file-MiB")
		b.ReportMetric(float64(used)/(1<<20), "used-MiB")
		b.ReportMetric(float64(used)/float64(total), "bytes/row")
		b.ReportMetric(float64(used)/float64(peers)/1024, "KiB/peer")
		b.ReportMetric(float64(recordWorst.Microseconds())/1000, "record-1k-max-ms")
		b.ReportMetric(float64(rollupMax.Microseconds())/1000, "rollup-hour-max-ms")
	}
}

// trafficRows counts the rows of the traffic history by table and step.
func (s *Store) trafficRows(ctx context.Context) (map[string]int64, error) {
	return inTx(ctx, s, func(tx *Tx) (map[string]int64, error) {
		out := make(map[string]int64)
		for _, tab := range []trafficTable{peerTraffic, nodeTraffic} {
			rows, err := tx.tx.QueryContext(ctx, "SELECT step, count(*) FROM "+tab.table+" GROUP BY step")
			if err != nil {
				return nil, fmt.Errorf("counting %s rows: %w", tab.table, err)
			}
			for rows.Next() {
				var step, n int64
				if err := rows.Scan(&step, &n); err != nil {
					rows.Close()
					return nil, fmt.Errorf("counting %s rows: %w", tab.table, err)
				}
				out[tab.table+"/"+(time.Duration(step)*time.Second).String()] = n
			}
			err = rows.Err()
			rows.Close()
			if err != nil {
				return nil, fmt.Errorf("counting %s rows: %w", tab.table, err)
			}
		}
		return out, nil
	})
}
