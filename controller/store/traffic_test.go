package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/wgfleet/wgfleet/internal/testenv"
)

// record adds deltas to the node's traffic at at, in one transaction as
// the poller does.
func record(t *testing.T, s *Store, nodeID int64, at time.Time, deltas ...TrafficDelta) {
	t.Helper()
	if err := s.InTx(context.Background(), func(tx *Tx) error { return tx.RecordTraffic(context.Background(), nodeID, at, deltas) }); err != nil {
		t.Fatalf("recording traffic at %s: %v", at, err)
	}
}

func bucket(at time.Time, rx, tx int64) TrafficBucket {
	return TrafficBucket{Start: at.UTC(), Rx: rx, Tx: tx}
}

func peerSeries(t *testing.T, s *Store, id int64, step time.Duration, from time.Time) []TrafficBucket {
	t.Helper()
	got, err := s.PeerTraffic(context.Background(), id, step, from)
	if err != nil {
		t.Fatalf("peer %d traffic by %s: %v", id, step, err)
	}
	return got
}

func nodeSeries(t *testing.T, s *Store, id int64, step time.Duration, from time.Time) []TrafficBucket {
	t.Helper()
	got, err := s.NodeTraffic(context.Background(), id, step, from)
	if err != nil {
		t.Fatalf("node %d traffic by %s: %v", id, step, err)
	}
	return got
}

func rollup(t *testing.T, s *Store, now time.Time) TrafficRollup {
	t.Helper()
	r, err := s.RollupTraffic(context.Background(), now)
	if err != nil {
		t.Fatalf("rollup at %s: %v", now, err)
	}
	return r
}

// TestTrafficHistory: deltas recorded by minute add up per peer and per
// node; the rollup sums complete hours and days once (running it again
// changes nothing), series by hour and day include what is not summed yet
// without counting anything twice, and each tier's rows go when it stops
// keeping them, never before they are summed.
func TestTrafficHistory(t *testing.T) {
	ctx := context.Background()
	s, _, _ := openTest(t)
	n := mustCreateNode(t, s, testNode("fra1"))
	p1 := mustCreatePeer(t, s, testPeer(t, n.ID, "one"))
	p2 := mustCreatePeer(t, s, testPeer(t, n.ID, "two"))
	t0 := testEpoch // 2026-03-01 12:00 UTC
	day := t0.Truncate(24 * time.Hour)

	record(t, s, n.ID, t0.Add(10*time.Second), TrafficDelta{p1.ID, 100, 10}, TrafficDelta{p2.ID, 1, 2}, TrafficDelta{p2.ID, 0, 0})
	record(t, s, n.ID, t0.Add(40*time.Second), TrafficDelta{p1.ID, 50, 0})
	record(t, s, n.ID, t0.Add(70*time.Second), TrafficDelta{p1.ID, 7, 0})
	record(t, s, n.ID, t0.Add(80*time.Second)) // nothing
	if err := s.InTx(ctx, func(tx *Tx) error {
		return tx.RecordTraffic(ctx, n.ID, t0, []TrafficDelta{{p1.ID, -1, 0}})
	}); !errors.Is(err, ErrInvalid) {
		t.Fatalf("a negative delta: %v, want ErrInvalid", err)
	}

	testenv.DeepEqual(t, "peer one by minute", peerSeries(t, s, p1.ID, TrafficMinute, t0),
		[]TrafficBucket{bucket(t0, 150, 10), bucket(t0.Add(time.Minute), 7, 0)})
	testenv.DeepEqual(t, "peer two by minute", peerSeries(t, s, p2.ID, TrafficMinute, t0), []TrafficBucket{bucket(t0, 1, 2)})
	testenv.DeepEqual(t, "node by minute", nodeSeries(t, s, n.ID, TrafficMinute, t0),
		[]TrafficBucket{bucket(t0, 151, 12), bucket(t0.Add(time.Minute), 7, 0)})
	testenv.DeepEqual(t, "node by minute from the second minute", nodeSeries(t, s, n.ID, TrafficMinute, t0.Add(time.Minute)),
		[]TrafficBucket{bucket(t0.Add(time.Minute), 7, 0)})
	// Nothing is summed yet: hours and days come from the minutes.
	testenv.DeepEqual(t, "node by hour before any rollup", nodeSeries(t, s, n.ID, TrafficHour, t0), []TrafficBucket{bucket(t0, 158, 12)})
	testenv.DeepEqual(t, "node by day before any rollup", nodeSeries(t, s, n.ID, TrafficDay, t0), []TrafficBucket{bucket(day, 158, 12)})

	// The hour is not complete (nor within the grace after it).
	testenv.Equal(t, "rollup within the hour", rollup(t, s, t0.Add(time.Hour+TrafficRollupGrace-time.Second)), TrafficRollup{})
	testenv.Equal(t, "rollup after the hour", rollup(t, s, t0.Add(time.Hour+TrafficRollupGrace)), TrafficRollup{Hours: 1})
	testenv.Equal(t, "rollup again", rollup(t, s, t0.Add(time.Hour+TrafficRollupGrace)), TrafficRollup{})
	testenv.Equal(t, "hour rows", countRows(t, s, "SELECT count(*) FROM peer_traffic WHERE step = 3600"), 2)
	testenv.DeepEqual(t, "peer one by hour after the rollup", peerSeries(t, s, p1.ID, TrafficHour, t0), []TrafficBucket{bucket(t0, 157, 10)})
	testenv.DeepEqual(t, "node by minute after the rollup", nodeSeries(t, s, n.ID, TrafficMinute, t0),
		[]TrafficBucket{bucket(t0, 151, 12), bucket(t0.Add(time.Minute), 7, 0)})

	// Traffic of the next hour: by hour it is its own bucket, by day it
	// joins the summed hour.
	t1 := t0.Add(70 * time.Minute)
	record(t, s, n.ID, t1, TrafficDelta{p1.ID, 1000, 1})
	testenv.DeepEqual(t, "peer one by hour", peerSeries(t, s, p1.ID, TrafficHour, t0),
		[]TrafficBucket{bucket(t0, 157, 10), bucket(t0.Add(time.Hour), 1000, 1)})
	testenv.DeepEqual(t, "peer one by day", peerSeries(t, s, p1.ID, TrafficDay, t0), []TrafficBucket{bucket(day, 1157, 11)})
	totals, err := s.NodeTrafficTotals(ctx, t0.Add(30*time.Minute)) // from the start of that hour
	if err != nil {
		t.Fatal(err)
	}
	testenv.DeepEqual(t, "node totals", totals, []TrafficTotal{{n.ID, 1158, 13}})

	// The next day, ten past midnight: every hour and the day are summed.
	r := rollup(t, s, day.Add(24*time.Hour+10*time.Minute))
	testenv.Equal(t, "rollup the next day", r, TrafficRollup{Hours: 1, Days: 1})
	testenv.DeepEqual(t, "peer one by day after the rollup", peerSeries(t, s, p1.ID, TrafficDay, day), []TrafficBucket{bucket(day, 1157, 11)})
	testenv.DeepEqual(t, "node by day after the rollup", nodeSeries(t, s, n.ID, TrafficDay, day), []TrafficBucket{bucket(day, 1158, 13)})
	testenv.DeepEqual(t, "peer one by hour after the day's rollup", peerSeries(t, s, p1.ID, TrafficHour, t0),
		[]TrafficBucket{bucket(t0, 157, 10), bucket(t0.Add(time.Hour), 1000, 1)})

	// A day after: the first hour's minutes are gone, the 13:10 one stays
	// until it is a day old.
	r = rollup(t, s, t0.Add(25*time.Hour))
	testenv.Equal(t, "minutes deleted a day later", r.Deleted, int64(2+1+2)) // p1 twice, p2, the node twice
	testenv.DeepEqual(t, "peer one by minute a day later", peerSeries(t, s, p1.ID, TrafficMinute, t0), []TrafficBucket{bucket(t1.Truncate(time.Minute), 1000, 1)})
	testenv.DeepEqual(t, "peer one by hour a day later", peerSeries(t, s, p1.ID, TrafficHour, t0),
		[]TrafficBucket{bucket(t0, 157, 10), bucket(t0.Add(time.Hour), 1000, 1)})

	// 31 days later only the day is left; 731 days later nothing.
	rollup(t, s, t0.Add(31*24*time.Hour))
	testenv.Equal(t, "peer rows 31 days later", countRows(t, s, "SELECT count(*) FROM peer_traffic"), 2)
	testenv.Equal(t, "peer one by hour 31 days later", len(peerSeries(t, s, p1.ID, TrafficHour, t0)), 0)
	testenv.DeepEqual(t, "peer one by day 31 days later", peerSeries(t, s, p1.ID, TrafficDay, day), []TrafficBucket{bucket(day, 1157, 11)})
	rollup(t, s, t0.Add(731*24*time.Hour))
	testenv.Equal(t, "peer rows two years later", countRows(t, s, "SELECT count(*) FROM peer_traffic"), 0)
	testenv.Equal(t, "node rows two years later", countRows(t, s, "SELECT count(*) FROM node_traffic"), 0)
}

// TestTrafficOfManyPeers: a dump of 100 peers (written in statements of
// 64, 32 and 4 rows) records each peer's delta, a peer given twice once
// with both added, and the node's sum; a rollup in chunks of peers sums
// them all, and summing an hour again changes nothing.
func TestTrafficOfManyPeers(t *testing.T) {
	s, _, _ := openTest(t)
	n := mustCreateNode(t, s, testNode("lon1"))
	var (
		deltas []TrafficDelta
		rx, tx int64
	)
	for i := range int64(100) {
		p := mustCreatePeer(t, s, testPeer(t, n.ID, fmt.Sprintf("p%d", i)))
		deltas = append(deltas, TrafficDelta{p.ID, i + 1, 2 * (i + 1)})
		rx, tx = rx+i+1, tx+2*(i+1)
	}
	deltas = append(deltas, TrafficDelta{deltas[0].PeerID, 1000, 0})
	record(t, s, n.ID, testEpoch, deltas...)
	testenv.Equal(t, "minute rows", countRows(t, s, "SELECT count(*) FROM peer_traffic WHERE step = 60"), 100)
	testenv.DeepEqual(t, "the peer given twice", peerSeries(t, s, deltas[0].PeerID, TrafficMinute, testEpoch), []TrafficBucket{bucket(testEpoch, 1001, 2)})
	testenv.DeepEqual(t, "the last peer", peerSeries(t, s, deltas[99].PeerID, TrafficMinute, testEpoch), []TrafficBucket{bucket(testEpoch, 100, 200)})
	testenv.DeepEqual(t, "the node", nodeSeries(t, s, n.ID, TrafficMinute, testEpoch), []TrafficBucket{bucket(testEpoch, rx+1000, tx)})

	// The rollup in chunks of 7 peers sums every one of them once; the
	// hour summed again (a rollup cut short and run again) stays the same.
	r, err := s.rollupTraffic(context.Background(), testEpoch.Add(time.Hour+TrafficRollupGrace), 7)
	if err != nil {
		t.Fatal(err)
	}
	testenv.Equal(t, "rollup in chunks", r, TrafficRollup{Hours: 1})
	if err := s.rollupBucket(context.Background(), TrafficMinute, TrafficHour, bucketStart(testEpoch, TrafficHour), 7); err != nil {
		t.Fatal(err)
	}
	testenv.Equal(t, "hour rows", countRows(t, s, "SELECT count(*) FROM peer_traffic WHERE step = 3600"), 100)
	var hourRx, hourTx int64
	if err := rawQueryRow(context.Background(), s, "SELECT CAST(SUM(rx) AS INTEGER), CAST(SUM(tx) AS INTEGER) FROM peer_traffic WHERE step = 3600").Scan(&hourRx, &hourTx); err != nil {
		t.Fatal(err)
	}
	testenv.Equal(t, "the peers' hours", [2]int64{hourRx, hourTx}, [2]int64{rx + 1000, tx})
	testenv.DeepEqual(t, "the last peer by hour", peerSeries(t, s, deltas[99].PeerID, TrafficHour, testEpoch), []TrafficBucket{bucket(testEpoch, 100, 200)})
	testenv.DeepEqual(t, "the node by hour", nodeSeries(t, s, n.ID, TrafficHour, testEpoch), []TrafficBucket{bucket(testEpoch, rx+1000, tx)})
}

// TestTrafficFollowsPeers: a deleted peer's history goes with it, its
// node's stays; series of a missing peer or node are ErrNotFound, and a
// step that is no tier's is refused.
func TestTrafficFollowsPeers(t *testing.T) {
	ctx := context.Background()
	s, _, _ := openTest(t)
	n := mustCreateNode(t, s, testNode("ams1"))
	p := mustCreatePeer(t, s, testPeer(t, n.ID, "gone"))
	record(t, s, n.ID, testEpoch, TrafficDelta{p.ID, 5, 6})
	if _, err := s.DeletePeer(ctx, p.ID); err != nil {
		t.Fatal(err)
	}
	testenv.Equal(t, "peer rows after its delete", countRows(t, s, "SELECT count(*) FROM peer_traffic"), 0)
	testenv.DeepEqual(t, "node series after the peer's delete", nodeSeries(t, s, n.ID, TrafficMinute, testEpoch),
		[]TrafficBucket{bucket(testEpoch, 5, 6)})
	if _, err := s.PeerTraffic(ctx, p.ID, TrafficMinute, testEpoch); !errors.Is(err, ErrPeerNotFound) {
		t.Fatalf("series of a deleted peer: %v, want ErrPeerNotFound", err)
	}
	if _, err := s.NodeTraffic(ctx, n.ID+100, TrafficMinute, testEpoch); !errors.Is(err, ErrNodeNotFound) {
		t.Fatalf("series of a missing node: %v, want ErrNodeNotFound", err)
	}
	if _, err := s.NodeTraffic(ctx, n.ID, 5*time.Minute, testEpoch); !errors.Is(err, ErrInvalid) {
		t.Fatalf("series by 5 minutes: %v, want ErrInvalid", err)
	}
}

// TestPeerStatsReturnTotals: RecordPeerStats returns the totals after the
// observation, across a counter reset, so their growth is the traffic.
func TestPeerStatsReturnTotals(t *testing.T) {
	ctx := context.Background()
	s, _, _ := openTest(t)
	n := mustCreateNode(t, s, testNode("par1"))
	p := mustCreatePeer(t, s, testPeer(t, n.ID, "counted"))
	for _, step := range []struct {
		name           string
		rx, tx         int64
		wantRx, wantTx int64
	}{
		{"first observation", 100, 200, 100, 200},
		{"counters grow", 150, 260, 150, 260},
		{"counters reset", 30, 5, 180, 265},
		{"unchanged", 30, 5, 180, 265},
	} {
		var rx, tx int64
		if err := s.InTx(ctx, func(t2 *Tx) error {
			var err error
			rx, tx, err = t2.RecordPeerStats(ctx, p.ID, time.Time{}, step.rx, step.tx)
			return err
		}); err != nil {
			t.Fatalf("%s: %v", step.name, err)
		}
		testenv.Equal(t, step.name+": totals", [2]int64{rx, tx}, [2]int64{step.wantRx, step.wantTx})
	}
	err := s.InTx(ctx, func(tx *Tx) error {
		_, _, err := tx.RecordPeerStats(ctx, p.ID+100, time.Time{}, 1, 1)
		return err
	})
	if !errors.Is(err, ErrPeerNotFound) {
		t.Fatalf("stats of a missing peer: %v, want ErrPeerNotFound", err)
	}
}

// trafficHistoryMigration is the version that added peer_traffic and
// node_traffic.
const trafficHistoryMigration = 16

// trafficHistoryFixture: a peer's and its node's minute at version 16,
// read back as a series after every later migration; a bucket that is no
// tier's is refused by the schema.
func trafficHistoryFixture() migrationFixture {
	return migrationFixture{
		insert: func(t *testing.T, db *sql.DB) {
			box := testBox(t, 1)
			secret, err := box.Seal([]byte("v16-node-secret"), nodeSecretAAD(16))
			if err != nil {
				t.Fatal(err)
			}
			k := newKey(t).PublicKey().String()
			execAll(t, db,
				`INSERT INTO nodes (id, name, agent_url, secret_enc, ip_pool_cidr, created_at, updated_at)
				 VALUES (16, 'v16-node', 'https://v16.example.net', '`+secret+`', '10.16.0.0/24', 1, 1)`,
				`INSERT INTO peers (id, node_id, iface, name, public_key, address4, allowed_ips, created_at, updated_at)
				 VALUES (16, 16, 'wg0', 'v16-peer', '`+k+`', '10.16.0.2', '10.16.0.2/32', 1, 1)`,
				`INSERT INTO ip_allocations (node_id, ip, peer_id) VALUES (16, '10.16.0.2', 16)`,
				`INSERT INTO peer_traffic (peer_id, step, t, rx, tx) VALUES (16, 60, 1000020, 5, 6)`,
				`INSERT INTO node_traffic (node_id, step, t, rx, tx) VALUES (16, 60, 1000020, 5, 6)`,
			)
			if _, err := db.Exec(`INSERT INTO peer_traffic (peer_id, step, t, rx, tx) VALUES (16, 300, 1000200, 1, 1)`); err == nil {
				t.Fatal("a bucket of 300 s accepted")
			}
		},
		check: func(t *testing.T, s *Store) {
			want := []TrafficBucket{bucket(time.Unix(1000020, 0), 5, 6)}
			testenv.DeepEqual(t, "v16 peer traffic after migration", peerSeries(t, s, 16, TrafficMinute, time.Unix(0, 0)), want)
			testenv.DeepEqual(t, "v16 node traffic after migration", nodeSeries(t, s, 16, TrafficMinute, time.Unix(0, 0)), want)
		},
	}
}
