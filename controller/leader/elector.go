package leader

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/wgfleet/wgfleet/controller/fault"
	"github.com/wgfleet/wgfleet/controller/store"
)

// LeaseName is the name of the controller's lease in the store.
const LeaseName = "controller"

// DefaultInterval is Config.Interval's default.
const DefaultInterval = 5 * time.Second

// ErrNotLeader is the answer to a write to an agent from a replica that
// does not lead (or no longer does): the leader makes it.
var ErrNotLeader = fault.New(fault.EUNAVAILABLE, "this controller replica is not the leader")

// Config configures an Elector.
type Config struct {
	// Store is the database the replicas share. Required.
	Store *store.Store
	// Name is this replica's name, shown to operators. Required.
	Name string
	// Interval is how often a follower tries to take the lease and the
	// leader checks that it still holds it (each check bounded by it).
	// 0 means DefaultInterval.
	Interval time.Duration
	// Grace is how long a new leader waits after taking the lease before
	// it starts its work: a leader cut off from the database stops
	// writing within 2×Interval of its last good check (the check fails
	// or times out), so a Grace of that length keeps two leaders from
	// writing at once even when the database dropped the old one's
	// session first. 0 means 2×Interval; negative means none.
	Grace time.Duration
	// Logger; nil discards.
	Logger *slog.Logger
}

// Elector takes part in the election of one replica. New makes it; Run
// runs it. It is safe for concurrent use.
type Elector struct {
	store    *store.Store
	name     atomic.Pointer[string]
	interval time.Duration
	grace    time.Duration
	log      *slog.Logger

	leading atomic.Bool
	// epoch is the epoch of the lease the work runs under; 0 when none.
	epoch atomic.Int64

	mu     sync.Mutex              // guards lease and cancel
	lease  *store.Lease            // the lease the work runs under; nil when not leading
	cancel context.CancelCauseFunc // ends the work; nil when not leading
}

// New returns an Elector; Run runs it.
func New(cfg Config) *Elector {
	e := &Elector{store: cfg.Store, interval: cfg.Interval, grace: cfg.Grace, log: cfg.Logger}
	e.name.Store(&cfg.Name)
	if e.interval <= 0 {
		e.interval = DefaultInterval
	}
	if e.grace == 0 {
		e.grace = 2 * e.interval
	}
	e.grace = max(e.grace, 0)
	if e.log == nil {
		e.log = slog.New(slog.DiscardHandler)
	}
	return e
}

// Name is this replica's name.
func (e *Elector) Name() string { return *e.name.Load() }

// Rename names this replica name; call it before Run (a name made from a
// listener's port only known then).
func (e *Elector) Rename(name string) { e.name.Store(&name) }

// Leading reports whether this replica leads now: its work runs.
func (e *Elector) Leading() bool { return e.leading.Load() }

// Leader returns the name of the replica that leads now, "" when none
// does (between a leader's end and the next one's start).
func (e *Elector) Leader(ctx context.Context) (string, error) {
	if e.Leading() {
		return e.Name(), nil
	}
	if !e.store.Shared() {
		return "", nil
	}
	return e.store.LeaseHolder(ctx, LeaseName)
}

// Run takes part in the election until ctx is done. While this replica
// holds the lease, work runs under a context that ends when ctx does or
// the lease is lost (its database session ended, or a check of it failed
// or took longer than Interval); Run waits for work to return before it
// lets the lease go or tries to take it again. On SQLite work runs at
// once, for as long as ctx. Run returns nil once ctx is done and work has
// returned.
func (e *Elector) Run(ctx context.Context, work func(ctx context.Context)) error {
	if !e.store.Shared() {
		e.leading.Store(true)
		defer e.leading.Store(false)
		work(ctx)
		return nil
	}
	retry := time.NewTicker(e.interval)
	defer retry.Stop()
	for {
		l, err := e.store.TryAcquireLease(ctx, LeaseName, e.Name())
		switch {
		case err == nil:
			e.lead(ctx, l, work)
		case errors.Is(err, store.ErrLeaseHeld), ctx.Err() != nil:
		default:
			e.log.Warn("taking the leader lease", "err", err)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-retry.C:
		}
	}
}

// lead runs work while l is held, and releases l once work has returned.
func (e *Elector) lead(ctx context.Context, l *store.Lease, work func(ctx context.Context)) {
	defer l.Release()
	log := e.log.With("replica", e.Name(), "epoch", l.Epoch())
	log.Info("took the leader lease; leading after the grace period", "grace", e.grace)
	if e.grace > 0 {
		t := time.NewTimer(e.grace)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
	}
	if err := e.check(ctx, l); err != nil {
		log.Warn("lost the leader lease before leading", "err", err)
		return
	}
	term, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	e.mu.Lock()
	e.lease, e.cancel = l, cancel
	e.mu.Unlock()
	e.epoch.Store(l.Epoch())
	e.leading.Store(true)
	log.Info("leading: polling and reconciling")

	done := make(chan struct{})
	go func() {
		defer close(done)
		work(term)
	}()
	t := time.NewTicker(e.interval)
	defer t.Stop()
	for term.Err() == nil {
		select {
		case <-term.Done():
		case <-done:
			cancel(nil)
		case <-t.C:
			if err := e.check(term, l); err != nil && term.Err() == nil {
				cancel(fmt.Errorf("%w: %w", ErrNotLeader, err))
			}
		}
	}
	e.stop()
	<-done
	if cause := context.Cause(term); ctx.Err() == nil && cause != nil && !errors.Is(cause, context.Canceled) {
		log.Warn("lost the leader lease; stopped polling and reconciling", "err", cause)
	} else {
		log.Info("stopped leading")
	}
}

// check checks l within one Interval.
func (e *Elector) check(ctx context.Context, l *store.Lease) error {
	ctx, cancel := context.WithTimeout(ctx, e.interval)
	defer cancel()
	return l.Check(ctx)
}

// stop ends the term: from now on Allow refuses.
func (e *Elector) stop() {
	e.mu.Lock()
	e.lease, e.cancel = nil, nil
	e.mu.Unlock()
	e.leading.Store(false)
	e.epoch.Store(0)
}

// Allow returns nil if this replica may write to the agents now: it leads
// and its database session still holds the lease (checked now, within one
// Interval). Otherwise it returns an error wrapping ErrNotLeader, and a
// leader that finds its lease lost stops its work. On SQLite it is always
// nil.
func (e *Elector) Allow(ctx context.Context) error {
	if !e.store.Shared() {
		return nil
	}
	e.mu.Lock()
	l, cancel := e.lease, e.cancel
	e.mu.Unlock()
	if l == nil {
		return ErrNotLeader
	}
	if err := e.check(ctx, l); err != nil {
		if ctx.Err() != nil {
			return err
		}
		err = fmt.Errorf("%w: %w", ErrNotLeader, err)
		cancel(err)
		return err
	}
	return nil
}

// Check, inside a transaction, fails with an error wrapping
// store.ErrLeaseLost and ErrNotLeader unless this replica leads and its
// lease's epoch is still the current one: the transaction that records a
// write to an agent calls it, so that a deposed leader's late result is
// refused. On SQLite it is always nil.
func (e *Elector) Check(ctx context.Context, tx *store.Tx) error {
	if !e.store.Shared() {
		return nil
	}
	epoch := e.epoch.Load()
	if epoch == 0 {
		return fmt.Errorf("%w: %w", ErrNotLeader, store.ErrLeaseLost)
	}
	if err := tx.CheckEpoch(ctx, LeaseName, epoch); err != nil {
		return fmt.Errorf("%w: %w", ErrNotLeader, err)
	}
	return nil
}
