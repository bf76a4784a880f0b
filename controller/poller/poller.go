package poller

import (
	"context"
	"log/slog"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/wgfleet/wgfleet/agent/agentapi"
	"github.com/wgfleet/wgfleet/controller/agentclient"
	"github.com/wgfleet/wgfleet/controller/events"
	"github.com/wgfleet/wgfleet/controller/reconcile"
	"github.com/wgfleet/wgfleet/controller/store"
)

// Defaults of Config.
const (
	DefaultInterval   = 60 * time.Second
	DefaultWorkers    = 32
	DefaultJitter     = 0.1
	DefaultMaxBackoff = 10 * time.Minute
	// RecordFactor: up to RecordFactor×Workers polls run at once, of
	// which Workers read their agents (see Config.Workers).
	RecordFactor = 4
)

// Config configures a Poller. Zero values take the defaults.
type Config struct {
	Store   *store.Store      // required
	Clients *agentclient.Pool // required; shared with the reconciler
	// Reconciler, when set, is offered the peer list each poll read
	// (Reconciler.OfferBrief): its workers reconcile the node with it. It must
	// be running (Reconciler.Run): PollOnce waits for those reconciles
	// until its ctx ends. nil only polls.
	Reconciler *reconcile.Reconciler
	// Limits, when set, applies the node's peers' expiry and data limits
	// after each poll recorded their traffic and before the peer list is
	// offered to the reconciler, so that reconcile already takes a peer
	// that just expired or went over its limit off the agent.
	// fleet.Service implements it. nil applies none.
	Limits Limits
	Logger *slog.Logger // nil discards
	// Interval is the time between the starts of two cycles.
	Interval time.Duration
	// Timeout bounds the poll of one node: its health and peer list. 0
	// means agentapi.DefaultClientTimeout.
	Timeout time.Duration
	// Workers bounds how many nodes' agents are read (health and peer
	// list) at once. Recording what a poll read (the node's health, its
	// peers' traffic) mostly waits for the store's writer, which a burst
	// of changes keeps busy: up to RecordFactor×Workers polls run at
	// once, so a poll waiting for its record does not hold up the reads
	// of the next nodes.
	Workers int
	// Jitter spreads each cycle's start by up to ±Jitter×Interval, a
	// fraction in [0, 1). Negative means none.
	Jitter float64
	// Spread paces Run's cycles: a cycle starts its polls at a steady
	// rate, a few at a time, so that they end about Spread×Interval after
	// its start, when the cycle before shows they can (see pace.go); a
	// fleet whose polls take longer than that is polled as fast as
	// Workers go. A fraction in [0, 1); 0 or negative means no pacing:
	// every poll starts as soon as a worker takes it. PollOnce never
	// paces.
	Spread float64
	// MaxBackoff caps the wait between polls of a node that keeps failing.
	MaxBackoff time.Duration
	// Now is the poller's clock: the minute a poll's traffic is recorded
	// in, its events' times, and backoff decisions; nil means time.Now.
	// Timers (Interval) run on real time.
	Now func() time.Time
	// Events hears of node transitions (events.NodeOffline,
	// events.NodeOnline), once per transition; nil means nobody does.
	Events events.Publisher
}

// Limits applies expiry and data limits to one node's peers (see
// fleet.Service.EnforceLimits).
type Limits interface {
	EnforceLimits(ctx context.Context, nodeID int64) error
}

// LimitsFunc is a function as Limits.
type LimitsFunc func(ctx context.Context, nodeID int64) error

// EnforceLimits calls f(ctx, nodeID).
func (f LimitsFunc) EnforceLimits(ctx context.Context, nodeID int64) error { return f(ctx, nodeID) }

// Summary counts what one PollOnce did.
type Summary struct {
	Nodes   int `json:"nodes"`   // enabled nodes
	Polled  int `json:"polled"`  // of those, polled this cycle
	Skipped int `json:"skipped"` // of those, left for later by backoff
	Online  int `json:"online"`
	Offline int `json:"offline"`
	Error   int `json:"error"`
	// Reconciled counts the polled nodes whose reconcile, with the peer
	// list the poll read, ran to the end; ReconcileFailed those whose
	// reconcile did not. The reconciler's workers run them; PollOnce
	// waits for them.
	Reconciled      int `json:"reconciled"`
	ReconcileFailed int `json:"reconcile_failed"`
	// Unchanged counts the reconciled nodes whose dump was the one their
	// last reconcile found in line, at the same desired generation: they
	// were compared by digest, without reading their peers
	// (reconcile.Result.Unchanged).
	Unchanged int `json:"unchanged"`
	// StatsUnchanged counts the online nodes whose peer list showed the
	// counters and handshakes their last poll recorded, at the same
	// desired generation: their traffic was neither compared nor written.
	StatsUnchanged int `json:"stats_unchanged"`
}

// Poller polls the fleet. It is safe for concurrent use; polls of one node
// never overlap (nodeState.mu).
type Poller struct {
	store      *store.Store
	clients    *agentclient.Pool
	reconciler *reconcile.Reconciler
	limits     Limits
	log        *slog.Logger
	interval   time.Duration
	timeout    time.Duration
	workers    int
	// reads holds a token for each poll reading its agent: at most
	// workers at once.
	reads      chan struct{}
	jitter     float64
	spread     float64
	maxBackoff time.Duration
	now        func() time.Time
	events     events.Publisher

	mu    sync.Mutex // guards nodes and soon
	nodes map[int64]*nodeState
	// soon are the nodes PollSoon asked for that Run has not started
	// polling yet.
	soon map[int64]bool
	// poked holds a token while soon may have nodes for Run.
	poked chan struct{}
}

// nodeState is what the poller remembers of one node between polls.
type nodeState struct {
	mu sync.Mutex // held for a whole poll of the node
	// lastAttempt is when the last poll started, Unix nanoseconds; 0
	// before the first. Atomic, so deciding backoff never waits for a
	// poll in progress.
	lastAttempt atomic.Int64
	// stats is what the last recordStats of the node left in the
	// database; nil before any, and after one that failed. Guarded by mu.
	stats *recorded
}

// New returns a Poller; Run runs it.
func New(cfg Config) *Poller {
	p := &Poller{
		store:      cfg.Store,
		clients:    cfg.Clients,
		reconciler: cfg.Reconciler,
		limits:     cfg.Limits,
		log:        cfg.Logger,
		interval:   cfg.Interval,
		timeout:    cfg.Timeout,
		workers:    cfg.Workers,
		jitter:     cfg.Jitter,
		spread:     min(cfg.Spread, 0.99),
		maxBackoff: cfg.MaxBackoff,
		events:     events.OrDiscard(cfg.Events),
		now:        cfg.Now,
		nodes:      make(map[int64]*nodeState),
		soon:       make(map[int64]bool),
		poked:      make(chan struct{}, 1),
	}
	if p.log == nil {
		p.log = slog.New(slog.DiscardHandler)
	}
	if p.interval <= 0 {
		p.interval = DefaultInterval
	}
	if p.timeout <= 0 {
		p.timeout = agentapi.DefaultClientTimeout
	}
	if p.workers <= 0 {
		p.workers = DefaultWorkers
	}
	p.reads = make(chan struct{}, p.workers)
	switch {
	case p.jitter == 0:
		p.jitter = DefaultJitter
	case p.jitter < 0:
		p.jitter = 0
	case p.jitter >= 1:
		p.jitter = 0.99
	}
	if p.maxBackoff <= 0 {
		p.maxBackoff = DefaultMaxBackoff
	}
	if p.now == nil {
		p.now = time.Now
	}
	return p
}

// Run polls every Interval, the first cycle at once, until ctx is done,
// and returns nil once the cycles in progress and the polls PollSoon asked
// for have ended. Each cycle is PollOnce: it polls, then waits for the
// reconciles it offered. A cycle starts Interval (±Jitter) after the start
// of the one before, or at once when that one's polls took longer
// (untilNext): its polls wait for those of the cycle before, not for its
// reconciles, which may still run. The reconciler holds a node at most
// once, with the newest peer list, so reconciles that take longer than
// the interval do not pile up; the polls keep their time. The "poll
// cycle" debug record of each cycle, in the order the cycles started,
// comes when its reconciles have ended ("took"; "polls_took" is its
// polls'). The nodes PollSoon names are polled as soon as it is called,
// beside the cycles.
func (p *Poller) Run(ctx context.Context) error {
	var wg sync.WaitGroup
	defer wg.Wait()
	type ended struct {
		start time.Time
		pace  paced
	}
	cycle := make(chan ended, 1) // a cycle whose polls ended
	var last paced               // the cycle before's pacing
	t := time.NewTimer(0)
	defer t.Stop()
	// logged is closed once the last cycle started has logged its record.
	logged := make(chan struct{})
	close(logged)
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-p.poked:
			for _, id := range p.takeSoon() {
				wg.Go(func() {
					if err := p.PollNode(ctx, id); err != nil && ctx.Err() == nil {
						p.log.Debug("poll of a new or enabled node failed", "node_id", id, "err", err)
					}
				})
			}
		case <-t.C: // set again only once the cycle's polls have ended
			prev, done := logged, make(chan struct{})
			logged = done
			spread := p.nextSpread(last)
			wg.Go(func() {
				defer close(done)
				start, begin := p.now(), time.Now() // pacing runs on real time, as timers do
				sum, pending := p.pollAll(ctx, spread)
				polled := p.now().Sub(start)
				cycle <- ended{start: start, pace: paced{spread: spread, took: time.Since(begin)}}
				p.awaitReconciles(ctx, &sum, pending)
				took := p.now().Sub(start)
				<-prev // ends once its reconciles have, or ctx
				p.log.Debug("poll cycle", "started", start, "took", took, "polls_took", polled, "spread", spread, "nodes", sum.Nodes,
					"polled", sum.Polled, "online", sum.Online, "reconciled", sum.Reconciled,
					"unchanged", sum.Unchanged, "stats_unchanged", sum.StatsUnchanged)
			})
		case e := <-cycle:
			last = e.pace
			t.Reset(p.untilNext(e.start))
		}
	}
}

// PollSoon asks Run to poll the node now, beside the cycle, ignoring
// backoff: for a node just created or enabled, which would otherwise stay
// "unknown" until the next cycle. It never blocks; asking again before
// the poll starts asks once.
func (p *Poller) PollSoon(nodeID int64) {
	p.mu.Lock()
	p.soon[nodeID] = true
	p.mu.Unlock()
	select {
	case p.poked <- struct{}{}:
	default:
	}
}

// takeSoon returns and forgets the nodes PollSoon asked for.
func (p *Poller) takeSoon() []int64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	ids := make([]int64, 0, len(p.soon))
	for id := range p.soon {
		ids = append(ids, id)
	}
	clear(p.soon)
	return ids
}

// untilNext is how long to wait, now, before the cycle after the one that
// started at start: Interval spread by ±Jitter counted from start, less
// the time the cycle took, and 0 when it took longer.
func (p *Poller) untilNext(start time.Time) time.Duration {
	return max(0, start.Add(p.nextDelay()).Sub(p.now()))
}

// nextDelay is Interval spread by ±Jitter.
func (p *Poller) nextDelay() time.Duration {
	if p.jitter == 0 {
		return p.interval
	}
	f := 1 + p.jitter*(2*rand.Float64()-1)
	return time.Duration(float64(p.interval) * f)
}

// state returns the node's state, making it on first use.
func (p *Poller) state(nodeID int64) *nodeState {
	p.mu.Lock()
	defer p.mu.Unlock()
	st, ok := p.nodes[nodeID]
	if !ok {
		st = &nodeState{}
		p.nodes[nodeID] = st
	}
	return st
}

// backoff is how long to wait after the last attempt at a node that
// failed failures times in a row: Interval×2^(failures-1), at most
// MaxBackoff; 0 for a healthy node.
func (p *Poller) backoff(failures int) time.Duration {
	if failures <= 0 {
		return 0
	}
	d := p.interval
	for i := 1; i < failures && d < p.maxBackoff; i++ {
		d *= 2
	}
	return min(d, p.maxBackoff)
}

// due reports whether a node that failed failures times in a row and was
// last tried at last should be polled at now. Half an interval of slack
// keeps jitter and tick drift from skipping a node that is due.
func (p *Poller) due(failures int, last, now time.Time) bool {
	wait := p.backoff(failures)
	return wait == 0 || last.IsZero() || now.Sub(last) >= wait-p.interval/2
}
