package poller

import (
	"context"
	"time"
)

// Pacing. A cycle that starts every node's poll as fast as the workers
// take them polls a fleet of 1,000 in one to five seconds, and for that
// time its reads, comparisons and records take both CPUs and most of the
// store's writer: an API write sent then waited 124-153 ms where it took
// 2-5 ms between cycles (docs/BENCHMARKS.md, controller-fleet in open
// loop). With Config.Spread, a cycle instead starts its polls at a steady
// rate, the i-th of n at i/n of its spread after the cycle's start (a few
// at a time: paceGroup), so the
// same work is spread over a share of the interval and leaves the API room
// throughout.
//
// The spread is chosen from the cycle before, so that pacing never makes a
// cycle longer than the workers alone would: a cycle's polls should end by
// Spread×Interval after its start, and what they took beyond their last
// start (the tail: the last polls' own time, or the whole cycle when the
// workers could not keep up with the pace) is taken off the next spread. A
// fleet whose polls fit in less than Spread×Interval is paced to end about
// then; one whose polls take longer gets a spread of 0 and is polled as
// fast as the workers go, as without pacing. The first cycle, with nothing
// to go by, is not paced.

// paced is what a cycle's pacing needs to know of the cycle before.
type paced struct {
	spread time.Duration // the spread its poll starts were given
	took   time.Duration // how long its polls took, from its start
}

// nextSpread is the spread of the poll starts of the cycle after one
// paced as last: Spread×Interval less last's tail (how long its polls
// ran past its spread), at least 0; 0 when pacing is off or there was no
// cycle before (last.took is 0).
func (p *Poller) nextSpread(last paced) time.Duration {
	if p.spread <= 0 || last.took <= 0 {
		return 0
	}
	budget := time.Duration(p.spread * float64(p.interval))
	return max(0, budget-max(0, last.took-last.spread))
}

// paceGroup is how many polls a paced cycle starts together: a quarter of
// its workers (8 of the default 32), at least 1. Started one at a time,
// 1,000 polls every 6 ms each woke an otherwise idle process, which cost
// up to 1.6 ms of CPU more a node and idle cycle than polls started 32 at
// once (docs/BENCHMARKS.md, controller-fleet beside a paced poll cycle).
func (p *Poller) paceGroup() int { return max(1, p.workers/4) }

// startAt is when the i-th of n polls of a cycle that began at begin and
// spreads its polls over spread may start: with the first of its group
// of g (the polls g×k to g×k+g-1 start together).
func startAt(begin time.Time, spread time.Duration, i, n, g int) time.Time {
	if spread <= 0 || n <= 1 {
		return begin
	}
	i -= i % max(1, g)
	return begin.Add(time.Duration(int64(spread) * int64(i) / int64(n)))
}

// sleepUntil waits on t (not running) until at, and reports false if ctx
// ended first.
func sleepUntil(ctx context.Context, t *time.Timer, at time.Time) bool {
	d := time.Until(at)
	if d <= 0 {
		return ctx.Err() == nil
	}
	t.Reset(d)
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		t.Stop()
		return false
	}
}
