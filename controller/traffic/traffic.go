// Package traffic is the controller's traffic history: the series of what
// each peer and each node received and sent, for the API's charts, and
// the rollup loop that sums minutes into hours and hours into days and
// keeps the history bounded. The poller records the minutes (what each
// poll added to the peers' totals, as data limits count it); the SQL and
// the tiers' lengths and retention are in controller/store (traffic.go).
// See docs/ARCHITECTURE.md, "Traffic history".
package traffic

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/wgfleet/wgfleet/controller/store"
)

// DefaultRollupInterval is how often Run sums and prunes the history. An
// hour is summed at most this long after its grace
// (store.TrafficRollupGrace) ends; a run with nothing to sum is a few
// index seeks.
const DefaultRollupInterval = time.Minute

// Range is a span of history a series covers, ending now, and the step of
// its points.
type Range struct {
	Name string        // as the API names it: "24h"
	Span time.Duration // how far back
	Step time.Duration // one point per step, a tier of the store
}

// Ranges returns the ranges the API serves, shortest first.
func Ranges() []Range {
	return []Range{
		{"24h", 24 * time.Hour, store.TrafficMinute},
		{"7d", 7 * 24 * time.Hour, store.TrafficHour},
		{"30d", 30 * 24 * time.Hour, store.TrafficHour},
		{"1y", 365 * 24 * time.Hour, store.TrafficDay},
	}
}

// ParseRange returns the range named name; false when there is none.
func ParseRange(name string) (Range, bool) {
	for _, r := range Ranges() {
		if r.Name == name {
			return r, true
		}
	}
	return Range{}, false
}

// Point is what passed in one step of a series: bytes received from the
// peer (or the node's peers) and sent to it.
type Point struct {
	T  time.Time `json:"t"` // the step's start
	Rx int64     `json:"rx"`
	Tx int64     `json:"tx"`
}

// Series is a peer's or a node's traffic over a range: one point per step,
// oldest first, the last one the step in progress; steps without traffic
// are 0. Rx and Tx are the points' sums.
type Series struct {
	Range  string    `json:"range"`
	Step   int64     `json:"step"` // seconds
	From   time.Time `json:"from"` // the first point's start
	Rx     int64     `json:"rx"`
	Tx     int64     `json:"tx"`
	Points []Point   `json:"points"`
}

// Total is what passed through one node over a range.
type Total struct {
	NodeID int64 `json:"node_id"`
	Rx     int64 `json:"rx"`
	Tx     int64 `json:"tx"`
}

// Totals is every node's traffic over a range; a node without traffic is
// not listed.
type Totals struct {
	Range string    `json:"range"`
	From  time.Time `json:"from"`
	Nodes []Total   `json:"nodes"`
}

// Config configures a Service.
type Config struct {
	Store  *store.Store     // required
	Now    func() time.Time // nil means time.Now
	Logger *slog.Logger     // nil discards
	// RollupInterval is how often Run rolls up; 0 means
	// DefaultRollupInterval.
	RollupInterval time.Duration
}

// Service reads the traffic history and keeps it rolled up.
type Service struct {
	store    *store.Store
	now      func() time.Time
	log      *slog.Logger
	interval time.Duration
}

// New returns a Service; Run runs its rollup.
func New(cfg Config) *Service {
	s := &Service{store: cfg.Store, now: cfg.Now, log: cfg.Logger, interval: cfg.RollupInterval}
	if s.now == nil {
		s.now = time.Now
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.interval <= 0 {
		s.interval = DefaultRollupInterval
	}
	return s
}

// Peer returns the peer's series over r; store.ErrPeerNotFound when there
// is no such peer.
func (s *Service) Peer(ctx context.Context, peerID int64, r Range) (Series, error) {
	return s.series(r, func(from time.Time) ([]store.TrafficBucket, error) {
		return s.store.PeerTraffic(ctx, peerID, r.Step, from)
	})
}

// Node returns what passed through the node over r, its peers' sum;
// store.ErrNodeNotFound when there is no such node.
func (s *Service) Node(ctx context.Context, nodeID int64, r Range) (Series, error) {
	return s.series(r, func(from time.Time) ([]store.TrafficBucket, error) {
		return s.store.NodeTraffic(ctx, nodeID, r.Step, from)
	})
}

// series reads the buckets from the range's first step on and lays them
// on its steps.
func (s *Service) series(r Range, read func(from time.Time) ([]store.TrafficBucket, error)) (Series, error) {
	n := int(r.Span / r.Step)
	last := s.now().UTC().Truncate(r.Step) // Truncate is from the zero time: UTC-aligned for these steps
	from := last.Add(-time.Duration(n-1) * r.Step)
	buckets, err := read(from)
	if err != nil {
		return Series{}, fmt.Errorf("reading %s of traffic: %w", r.Name, err)
	}
	out := Series{Range: r.Name, Step: int64(r.Step / time.Second), From: from, Points: make([]Point, n)}
	for i := range out.Points {
		out.Points[i].T = from.Add(time.Duration(i) * r.Step)
	}
	for _, b := range buckets {
		i := int(b.Start.Sub(from) / r.Step)
		if i < 0 || i >= n {
			continue // written by a clock ahead of ours
		}
		out.Points[i].Rx += b.Rx
		out.Points[i].Tx += b.Tx
		out.Rx += b.Rx
		out.Tx += b.Tx
	}
	return out, nil
}

// NodeTotals returns every node's traffic over r, counted from the start
// of the hour r.Span ago; r must be at most 30 days (the hours kept).
func (s *Service) NodeTotals(ctx context.Context, r Range) (Totals, error) {
	if r.Span > store.KeepTrafficHours {
		return Totals{}, fmt.Errorf("traffic totals over %s: %w", r.Name, store.ErrInvalid)
	}
	from := s.now().UTC().Add(-r.Span).Truncate(time.Hour)
	list, err := s.store.NodeTrafficTotals(ctx, from)
	if err != nil {
		return Totals{}, fmt.Errorf("reading traffic totals: %w", err)
	}
	out := Totals{Range: r.Name, From: from, Nodes: make([]Total, 0, len(list))}
	for _, t := range list {
		out.Nodes = append(out.Nodes, Total{NodeID: t.NodeID, Rx: t.Rx, Tx: t.Tx})
	}
	return out, nil
}

// Rollup sums and prunes the history now (store.RollupTraffic).
func (s *Service) Rollup(ctx context.Context) (store.TrafficRollup, error) {
	r, err := s.store.RollupTraffic(ctx, s.now())
	if err != nil {
		return r, fmt.Errorf("rolling up traffic history: %w", err)
	}
	return r, nil
}

// Run rolls up at once and then every RollupInterval until ctx is done.
// Only one controller of a database should run it (the leader's
// background work).
func (s *Service) Run(ctx context.Context) {
	t := time.NewTicker(s.interval)
	defer t.Stop()
	for {
		start := time.Now()
		r, err := s.Rollup(ctx)
		switch {
		case err != nil && ctx.Err() == nil:
			s.log.Error("traffic history rollup", "err", err)
		case r != store.TrafficRollup{}:
			s.log.Debug("traffic history rollup", "hours", r.Hours, "days", r.Days, "deleted", r.Deleted,
				"took", time.Since(start))
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
