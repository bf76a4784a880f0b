package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// The traffic history's tiers: the bucket lengths it keeps and for how
// long (migration 0016). The poller writes minutes; RollupTraffic sums
// complete minutes into hours and hours into days, then deletes what is
// older than its tier keeps. Buckets are aligned to UTC.
const (
	TrafficMinute = time.Minute
	TrafficHour   = time.Hour
	TrafficDay    = 24 * time.Hour

	KeepTrafficMinutes = 24 * time.Hour       // minute buckets: the last day
	KeepTrafficHours   = 30 * 24 * time.Hour  // hour buckets: the last 30 days
	KeepTrafficDays    = 730 * 24 * time.Hour // day buckets: the last two years

	// TrafficRollupGrace is how long after an hour (or day) ends the
	// rollup waits before summing it, so that a poll whose clock is a
	// little behind (another replica's) still lands in a bucket not yet
	// summed. Traffic recorded later than that into a summed bucket stays
	// in its minute row only.
	TrafficRollupGrace = 5 * time.Minute
)

// TrafficDelta is what one peer received and sent since the poll before:
// what its RxTotal and TxTotal grew by.
type TrafficDelta struct {
	PeerID int64
	Rx, Tx int64
}

// TrafficBucket is what passed in one bucket of a traffic series.
type TrafficBucket struct {
	Start  time.Time
	Rx, Tx int64
}

// TrafficTotal is what passed through one node in a span of time.
type TrafficTotal struct {
	NodeID int64
	Rx, Tx int64
}

// trafficTable is a traffic table and the column naming what it counts.
type trafficTable struct{ table, key, parent string }

var (
	peerTraffic = trafficTable{"peer_traffic", "peer_id", "peers"}
	nodeTraffic = trafficTable{"node_traffic", "node_id", "nodes"}
)

// RecordTraffic adds what the node's peers received and sent since the
// last poll to the minute bucket of at, for each peer and for the node
// (their sum). Deltas of zero are skipped, and a peer's deltas given twice
// are added; none at all writes nothing. The peers must exist (the poller
// records them in the transaction that read them). A dump of n peers with
// traffic is written by about n/64 + 7 statements.
func (tx *Tx) RecordTraffic(ctx context.Context, nodeID int64, at time.Time, deltas []TrafficDelta) error {
	t := bucketStart(at, TrafficMinute)
	var (
		sum   TrafficDelta
		rows  = make([]TrafficDelta, 0, len(deltas))
		index = make(map[int64]int, len(deltas))
	)
	for _, d := range deltas {
		if d.Rx < 0 || d.Tx < 0 {
			return fmt.Errorf("recording traffic of peer %d: %w", d.PeerID, invalidf("negative delta rx=%d tx=%d", d.Rx, d.Tx))
		}
		if d.Rx == 0 && d.Tx == 0 {
			continue
		}
		// One row per peer: an upsert may not meet its own row twice.
		if i, ok := index[d.PeerID]; ok {
			rows[i].Rx += d.Rx
			rows[i].Tx += d.Tx
		} else {
			index[d.PeerID] = len(rows)
			rows = append(rows, d)
		}
		sum.Rx += d.Rx
		sum.Tx += d.Tx
	}
	if len(rows) == 0 {
		return nil
	}
	for len(rows) > 0 {
		n := 1
		// A few fixed statement texts, largest first, each translated and
		// prepared once.
		for _, c := range [...]int{64, 32, 16, 8, 4, 2, 1} {
			if c <= len(rows) {
				n = c
				break
			}
		}
		args := make([]any, 0, 4*n)
		for _, d := range rows[:n] {
			args = append(args, d.PeerID, t, d.Rx, d.Tx)
		}
		if err := tx.addTraffic(ctx, peerTraffic, n, args); err != nil {
			return err
		}
		rows = rows[n:]
	}
	return tx.addTraffic(ctx, nodeTraffic, 1, []any{nodeID, t, sum.Rx, sum.Tx})
}

// addTraffic adds n minute rows (step 60: TrafficMinute) to tab, args
// holding (id, t, rx, tx) for each.
func (tx *Tx) addTraffic(ctx context.Context, tab trafficTable, n int, args []any) error {
	values := strings.Repeat("(?, 60, ?, ?, ?), ", n)
	_, err := tx.tx.ExecContext(ctx, `INSERT INTO `+tab.table+` (`+tab.key+`, step, t, rx, tx) VALUES `+values[:len(values)-2]+`
		ON CONFLICT (`+tab.key+`, step, t) DO UPDATE SET rx = `+tab.table+`.rx + excluded.rx, tx = `+tab.table+`.tx + excluded.tx`,
		args...)
	if err != nil {
		return fmt.Errorf("recording traffic of %s %d: %w", tab.key, args[0], err)
	}
	return nil
}

// PeerTraffic returns the peer's traffic in buckets of step (a tier's:
// TrafficMinute, TrafficHour or TrafficDay) that start at or after from,
// oldest first, only those with traffic. A bucket holds what its own tier
// has and what finer tiers hold that is not summed into it yet, so the
// latest buckets are complete too. ErrPeerNotFound when there is no such
// peer. It reads in a read-only transaction (View): charts never wait for
// polls, nor hold them up.
func (s *Store) PeerTraffic(ctx context.Context, peerID int64, step time.Duration, from time.Time) ([]TrafficBucket, error) {
	return view(ctx, s, func(tx *Tx) ([]TrafficBucket, error) {
		return tx.traffic(ctx, peerTraffic, peerID, step, from, fmt.Errorf("peer %d: %w", peerID, ErrPeerNotFound))
	})
}

// NodeTraffic is PeerTraffic for what passed through the node, its peers'
// sum. ErrNodeNotFound when there is no such node.
func (s *Store) NodeTraffic(ctx context.Context, nodeID int64, step time.Duration, from time.Time) ([]TrafficBucket, error) {
	return view(ctx, s, func(tx *Tx) ([]TrafficBucket, error) {
		return tx.traffic(ctx, nodeTraffic, nodeID, step, from, fmt.Errorf("node %d: %w", nodeID, ErrNodeNotFound))
	})
}

func (tx *Tx) traffic(ctx context.Context, tab trafficTable, id int64, step time.Duration, from time.Time, notFound error) ([]TrafficBucket, error) {
	if !validTrafficStep(step) {
		return nil, fmt.Errorf("reading traffic: %w", invalidf("step %s is not a tier's", step))
	}
	var one int
	err := tx.tx.QueryRowContext(ctx, "SELECT 1 FROM "+tab.parent+" WHERE id = ?", id).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, notFound
	}
	if err != nil {
		return nil, fmt.Errorf("reading traffic of %s %d: %w", tab.key, id, err)
	}
	hours, days, err := tx.rolledUntil(ctx)
	if err != nil {
		return nil, err
	}
	// A row of a finer tier counts when it is not summed into the next
	// tier yet: a minute from the hour watermark on, an hour from the day
	// watermark on.
	rows, err := tx.tx.QueryContext(ctx, `SELECT t - t % ?2 AS b, CAST(SUM(rx) AS INTEGER), CAST(SUM(tx) AS INTEGER)
		FROM `+tab.table+`
		WHERE `+tab.key+` = ?1 AND t >= ?3
			AND (step = ?2 OR (step < ?2 AND t >= CASE step WHEN 60 THEN CAST(?4 AS INTEGER) ELSE CAST(?5 AS INTEGER) END))
		GROUP BY b ORDER BY b`, id, seconds(step), bucketStart(from, step), hours, days)
	if err != nil {
		return nil, fmt.Errorf("reading traffic of %s %d: %w", tab.key, id, err)
	}
	defer rows.Close()
	var out []TrafficBucket
	for rows.Next() {
		var (
			b TrafficBucket
			t int64
		)
		if err := rows.Scan(&t, &b.Rx, &b.Tx); err != nil {
			return nil, fmt.Errorf("reading traffic of %s %d: %w", tab.key, id, err)
		}
		b.Start = time.Unix(t, 0).UTC()
		out = append(out, b)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("reading traffic of %s %d: %w", tab.key, id, err)
	}
	return out, nil
}

// NodeTrafficTotals returns what passed through each node that had
// traffic since from, counted from the start of from's hour, in node id
// order. from must be within KeepTrafficHours: older hours are gone.
func (s *Store) NodeTrafficTotals(ctx context.Context, from time.Time) ([]TrafficTotal, error) {
	return view(ctx, s, func(tx *Tx) ([]TrafficTotal, error) {
		hours, _, err := tx.rolledUntil(ctx)
		if err != nil {
			return nil, err
		}
		// Hours (kept 30 days, summed into days or not), and the minutes
		// not summed into their hour yet.
		rows, err := tx.tx.QueryContext(ctx, `SELECT node_id, CAST(SUM(rx) AS INTEGER), CAST(SUM(tx) AS INTEGER)
			FROM node_traffic
			WHERE node_id IN (SELECT id FROM nodes) AND t >= ?1
				AND (step = 3600 OR (step = 60 AND t >= ?2))
			GROUP BY node_id ORDER BY node_id`, bucketStart(from, TrafficHour), hours)
		if err != nil {
			return nil, fmt.Errorf("reading node traffic totals: %w", err)
		}
		defer rows.Close()
		var out []TrafficTotal
		for rows.Next() {
			var n TrafficTotal
			if err := rows.Scan(&n.NodeID, &n.Rx, &n.Tx); err != nil {
				return nil, fmt.Errorf("reading node traffic totals: %w", err)
			}
			out = append(out, n)
		}
		if err := rows.Err(); err != nil {
			return nil, fmt.Errorf("reading node traffic totals: %w", err)
		}
		return out, nil
	})
}

// TrafficRollup is what one RollupTraffic did.
type TrafficRollup struct {
	Hours, Days int   // buckets of those lengths summed (per tier, not per peer)
	Deleted     int64 // rows deleted as older than their tier keeps
}

// RollupTraffic sums every complete minute bucket (ended at least
// TrafficRollupGrace before now) not summed yet into its hour, every
// complete hour into its day, each hour or day in its own transaction
// (short ones: polls wait for them), and then deletes the rows older than
// their tier keeps, never one not summed yet. It may be interrupted and
// run again: the watermarks in meta move in the transaction that sums.
// Only one controller should run it at a time (the leader).
func (s *Store) RollupTraffic(ctx context.Context, now time.Time) (TrafficRollup, error) {
	return s.rollupTraffic(ctx, now, rollupChunk)
}

// rollupTraffic is RollupTraffic summing chunk peers per transaction.
func (s *Store) rollupTraffic(ctx context.Context, now time.Time, chunk int) (TrafficRollup, error) {
	var out TrafficRollup
	hours, days, err := inTx2(ctx, s, func(tx *Tx) (int64, int64, error) { return tx.rolledUntil(ctx) })
	if err != nil {
		return out, err
	}
	for _, tier := range []struct {
		step, from time.Duration
		done       *int64
		limit      int64
		count      *int
	}{
		{TrafficHour, TrafficMinute, &hours, bucketStart(now.Add(-TrafficRollupGrace), TrafficHour), &out.Hours},
		{TrafficDay, TrafficHour, &days, 0, &out.Days},
	} {
		if tier.step == TrafficDay {
			// Only days whose every hour is summed.
			tier.limit = min(bucketStart(now.Add(-TrafficRollupGrace), TrafficDay), hours-hours%seconds(TrafficDay))
		}
		for t := *tier.done; t < tier.limit; {
			// Skip to the next bucket with rows to sum: after a long stop,
			// or on the first rollup (from 0), most buckets have none.
			next, err := inTx(ctx, s, func(tx *Tx) (int64, error) { return tx.nextTraffic(ctx, tier.from, t) })
			if err != nil {
				return out, err
			}
			if next < 0 || next >= tier.limit {
				if err := s.InTx(ctx, func(tx *Tx) error { return tx.setRolledUntil(ctx, tier.step, tier.limit) }); err != nil {
					return out, err
				}
				*tier.done = tier.limit
				break
			}
			t = bucketStart(time.Unix(next, 0), tier.step)
			if err := s.rollupBucket(ctx, tier.from, tier.step, t, chunk); err != nil {
				return out, err
			}
			t += seconds(tier.step)
			*tier.done = t
			*tier.count++
		}
	}
	err = s.InTx(ctx, func(tx *Tx) error {
		for _, r := range []struct {
			step   time.Duration
			before int64
		}{
			{TrafficMinute, min(hours, bucketStart(now.Add(-KeepTrafficMinutes), TrafficMinute))},
			{TrafficHour, min(days, bucketStart(now.Add(-KeepTrafficHours), TrafficHour))},
			{TrafficDay, bucketStart(now.Add(-KeepTrafficDays), TrafficDay)},
		} {
			for _, tab := range []trafficTable{peerTraffic, nodeTraffic} {
				// Through the parent's ids, so that each is a seek on the
				// primary key rather than a scan of the table.
				res, err := tx.tx.ExecContext(ctx, `DELETE FROM `+tab.table+`
					WHERE `+tab.key+` IN (SELECT id FROM `+tab.parent+`) AND step = ? AND t < ?`, seconds(r.step), r.before)
				if err != nil {
					return fmt.Errorf("deleting old %s rows: %w", tab.table, err)
				}
				n, err := res.RowsAffected()
				if err != nil {
					return fmt.Errorf("deleting old %s rows: %w", tab.table, err)
				}
				out.Deleted += n
			}
		}
		return nil
	})
	return out, err
}

// rollupChunk is how many peers (or nodes) one transaction of the rollup
// sums, so that polls never wait for a whole hour of a large fleet.
const rollupChunk = 1000

// rollupBucket sums the rows of step from in [t, t+step) into the bucket
// of step at t, for every peer and node, chunk parents per transaction,
// then moves step's watermark to the bucket's end. A summed bucket is
// written whole (not added to), so a rollup cut short between two chunks
// and run again writes the same rows.
func (s *Store) rollupBucket(ctx context.Context, from, step time.Duration, t int64, chunk int) error {
	end := t + seconds(step)
	for _, tab := range []trafficTable{peerTraffic, nodeTraffic} {
		for after := int64(0); ; {
			last, err := inTx(ctx, s, func(tx *Tx) (int64, error) {
				return tx.rollupChunk(ctx, tab, from, step, t, after, chunk)
			})
			if err != nil {
				return err
			}
			if last == 0 {
				break
			}
			after = last
		}
	}
	return s.InTx(ctx, func(tx *Tx) error { return tx.setRolledUntil(ctx, step, end) })
}

// rollupChunk sums the bucket at t for the chunk parents of tab with ids
// after after, and returns the last of their ids; 0 when there are none.
func (tx *Tx) rollupChunk(ctx context.Context, tab trafficTable, from, step time.Duration, t, after int64, chunk int) (int64, error) {
	var last int64
	err := tx.tx.QueryRowContext(ctx, `SELECT coalesce(max(id), 0) FROM (
		SELECT id FROM `+tab.parent+` WHERE id > ? ORDER BY id LIMIT ?) AS c`, after, chunk).Scan(&last)
	if err != nil || last == 0 {
		return 0, err
	}
	// The parents' ids drive the join, a seek on the primary key each.
	_, err = tx.tx.ExecContext(ctx, `INSERT INTO `+tab.table+` (`+tab.key+`, step, t, rx, tx)
		SELECT m.`+tab.key+`, CAST(?1 AS INTEGER), CAST(?2 AS INTEGER), SUM(m.rx), SUM(m.tx)
		FROM `+tab.parent+` p CROSS JOIN `+tab.table+` m
		WHERE p.id > ?5 AND p.id <= ?6 AND m.`+tab.key+` = p.id AND m.step = ?3 AND m.t >= ?2 AND m.t < ?4
		GROUP BY m.`+tab.key+`
		ON CONFLICT (`+tab.key+`, step, t) DO UPDATE SET rx = excluded.rx, tx = excluded.tx`,
		seconds(step), t, seconds(from), t+seconds(step), after, last)
	if err != nil {
		return 0, fmt.Errorf("summing %s into %s buckets: %w", tab.table, step, err)
	}
	return last, nil
}

// setRolledUntil moves step's watermark to t.
func (tx *Tx) setRolledUntil(ctx context.Context, step time.Duration, t int64) error {
	_, err := tx.tx.ExecContext(ctx, `INSERT INTO meta (key, value) VALUES (?, ?)
		ON CONFLICT (key) DO UPDATE SET value = excluded.value`, rolledKey(step), strconv.FormatInt(t, 10))
	if err != nil {
		return fmt.Errorf("recording the traffic rollup's progress: %w", err)
	}
	return nil
}

// rolledUntil returns the hour and day watermarks: every minute before
// hours is summed into its hour, every hour before days into its day; 0
// when nothing was summed yet.
func (tx *Tx) rolledUntil(ctx context.Context) (hours, days int64, err error) {
	for _, w := range []struct {
		step time.Duration
		v    *int64
	}{{TrafficHour, &hours}, {TrafficDay, &days}} {
		var raw string
		err := tx.tx.QueryRowContext(ctx, "SELECT value FROM meta WHERE key = ?", rolledKey(w.step)).Scan(&raw)
		if errors.Is(err, sql.ErrNoRows) {
			continue
		}
		if err == nil {
			*w.v, err = strconv.ParseInt(raw, 10, 64)
		}
		if err != nil {
			return 0, 0, fmt.Errorf("reading the traffic rollup's progress: %w", err)
		}
	}
	return hours, days, nil
}

// nextTraffic returns the start of the first bucket of step at or after
// t, of any peer or node; -1 when there is none. Through the parents' ids,
// a seek on the primary key each.
func (tx *Tx) nextTraffic(ctx context.Context, step time.Duration, t int64) (int64, error) {
	var next int64
	err := tx.tx.QueryRowContext(ctx, `SELECT coalesce(min(f.t), -1) FROM (
		SELECT min(m.t) AS t FROM peers p CROSS JOIN peer_traffic m WHERE m.peer_id = p.id AND m.step = ?1 AND m.t >= ?2
		UNION ALL
		SELECT min(m.t) FROM nodes p CROSS JOIN node_traffic m WHERE m.node_id = p.id AND m.step = ?1 AND m.t >= ?2) AS f`,
		seconds(step), t).Scan(&next)
	if err != nil {
		return 0, fmt.Errorf("finding traffic to sum: %w", err)
	}
	return next, nil
}

func rolledKey(step time.Duration) string {
	return "traffic_rolled_" + strconv.FormatInt(seconds(step), 10)
}

func validTrafficStep(step time.Duration) bool {
	return step == TrafficMinute || step == TrafficHour || step == TrafficDay
}

func seconds(d time.Duration) int64 { return int64(d / time.Second) }

// bucketStart is the start, in unix seconds, of the bucket of step that
// holds at.
func bucketStart(at time.Time, step time.Duration) int64 {
	t, s := at.Unix(), seconds(step)
	return t - ((t%s)+s)%s
}

// inTx2 is inTx for a method with two results.
func inTx2[A, B any](ctx context.Context, s *Store, fn func(tx *Tx) (A, B, error)) (A, B, error) {
	var (
		a A
		b B
	)
	err := s.InTx(ctx, func(tx *Tx) error {
		var err error
		a, b, err = fn(tx)
		return err
	})
	return a, b, err
}
