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
// write path (RecordTraffic, one call per node and poll) and the real
// rollup (RollupTraffic), with every peer busy in every bucket: the worst
// case, since only buckets with traffic have a row. It reports the rows of
// each tier and the SQLite file's size after a WAL checkpoint (pages in
// use), per peer too, and how long recording and rolling up take. SQLite
// only. WGFLEET_TRAFFIC_PEERS and WGFLEET_TRAFFIC_DAYS size it.
//
// The days are played on a simulated clock (the times given to
// RecordTraffic and RollupTraffic), in three phases:
//
//   - the older days (all but the last): every node polled once an hour (an
//     hour row is one row however many minutes went into it, so the hour
//     and day tiers come out as a minute-by-minute run would make them), a
//     day's polls in one transaction, then the rollup;
//   - the last day but its last hour: every node polled every minute, an
//     hour's polls in one transaction (fillMinutes), then the rollup;
//   - the last hour as the controller runs: one transaction per node and
//     poll, the rollup every minute.
//
// The first two phases write the same rows in the same order as the
// controller would, in fewer commits, with a larger page cache on the
// writer connection (fillCacheKiB): what the file holds is the same, and
// a 10,000-peer month takes minutes instead of hours (each commit writes
// every page it changed to the WAL and the checkpoint copies it again;
// a minute's poll changes one page per peer). The last hour runs with the
// store's own settings and gives the times: the slowest transaction
// recording one node's dump of 1,000 peers (record-1k-max-ms), the
// slowest minute's polls of every peer one after the other
// (record-poll-max-ms), and the rollup that summed an hour of every peer
// (rollup-hour-max-ms: the last hour's run that summed the hour before,
// the slowest if several did). older-days-s,
// last-day-s and last-hour-s are the phases' times.
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
	const (
		perNode      = 1_000
		fillMinutes  = 60
		fillCacheKiB = 256 << 10
	)
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
		// pollAll records every node's poll at each of ats, in one
		// transaction.
		pollAll := func(ats []time.Time) {
			if err := s.InTx(ctx, func(tx *Tx) error {
				for _, at := range ats {
					for _, n := range nodes {
						if err := tx.RecordTraffic(ctx, n, at, deltas(byNode[n], at.Unix())); err != nil {
							return err
						}
					}
				}
				return nil
			}); err != nil {
				b.Fatal(err)
			}
		}
		// poll records every node's poll at at as the controller does, one
		// transaction per node; it returns the slowest and the sum.
		poll := func(at time.Time) (worst, all time.Duration) {
			for _, n := range nodes {
				d := deltas(byNode[n], at.Unix())
				start := time.Now()
				if err := s.InTx(ctx, func(tx *Tx) error { return tx.RecordTraffic(ctx, n, at, d) }); err != nil {
					b.Fatal(err)
				}
				took := time.Since(start)
				worst, all = max(worst, took), all+took
			}
			return worst, all
		}
		end := time.Date(2026, 11, 30, 0, 0, 0, 0, time.UTC)
		start := end.Add(-time.Duration(days) * 24 * time.Hour)
		dense := end.Add(-24 * time.Hour)
		last := end.Add(-time.Hour)
		var hourRollups []time.Duration
		roll := func(at time.Time) {
			start := time.Now()
			r, err := s.RollupTraffic(ctx, at)
			if err != nil {
				b.Fatal(err)
			}
			if r.Hours > 0 && at.After(last) { // the last hour's: the store's own settings
				hourRollups = append(hourRollups, time.Since(start))
			}
		}
		// The page cache of the store's one writer connection (s.db has
		// no other): larger while filling, the store's own for the last
		// hour.
		cache := func(size int) {
			if _, err := s.db.ExecContext(ctx, "PRAGMA cache_size = "+strconv.Itoa(size)); err != nil {
				b.Fatal(err)
			}
		}
		var ownCache int
		if err := s.db.QueryRowContext(ctx, "PRAGMA cache_size").Scan(&ownCache); err != nil {
			b.Fatal(err)
		}

		b.StartTimer()
		t0 := time.Now()
		cache(-fillCacheKiB)
		for day := start; day.Before(dense); day = day.Add(24 * time.Hour) {
			var ats []time.Time
			for h := range 24 {
				ats = append(ats, day.Add(time.Duration(h)*time.Hour+30*time.Minute))
			}
			pollAll(ats)
			roll(day.Add(24*time.Hour + TrafficRollupGrace))
		}
		t1 := time.Now()
		for at := dense; at.Before(last); at = at.Add(fillMinutes * time.Minute) {
			var ats []time.Time
			for m := range fillMinutes {
				ats = append(ats, at.Add(time.Duration(m)*time.Minute+30*time.Second))
			}
			pollAll(ats)
			roll(at.Add(fillMinutes * time.Minute))
		}
		cache(ownCache)
		t2 := time.Now()
		var recordWorst, pollWorst time.Duration
		for at := last; at.Before(end); at = at.Add(time.Minute) {
			worst, all := poll(at.Add(30 * time.Second))
			recordWorst, pollWorst = max(recordWorst, worst), max(pollWorst, all)
			roll(at.Add(time.Minute))
		}
		b.StopTimer()
		t3 := time.Now()

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
		b.ReportMetric(float64(pollWorst.Microseconds())/1000, "record-poll-max-ms")
		b.ReportMetric(float64(rollupMax.Microseconds())/1000, "rollup-hour-max-ms")
		b.ReportMetric(t1.Sub(t0).Seconds(), "older-days-s")
		b.ReportMetric(t2.Sub(t1).Seconds(), "last-day-s")
		b.ReportMetric(t3.Sub(t2).Seconds(), "last-hour-s")
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
