package webhook

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/wgfleet/wgfleet/controller/events"
	"github.com/wgfleet/wgfleet/controller/store"
	"github.com/wgfleet/wgfleet/internal/version"
)

// Defaults of a Dispatcher.
const (
	// DefaultMaxAttempts bounds the attempts at one delivery: with the
	// default backoff the last is about 40 minutes after the first.
	DefaultMaxAttempts = 8
	DefaultBaseBackoff = 10 * time.Second
	DefaultMaxBackoff  = 30 * time.Minute
	// DefaultTimeout bounds one attempt (connect, send, answer).
	DefaultTimeout = 10 * time.Second
	// KeepDeliveries is how many finished deliveries of each webhook the
	// log keeps.
	KeepDeliveries = 200
	// workers is how many deliveries are sent at once.
	workers = 4
	// batch is how many due deliveries one round of the worker takes.
	batch = 64
	// idle is the longest the worker sleeps with nothing due.
	idle = time.Minute
)

// Config configures a Dispatcher.
type Config struct {
	Store *store.Store // required
	// Client sends the deliveries; nil means an http.Client of its own
	// with Timeout that follows no redirect.
	Client *http.Client
	// Timeout bounds one attempt; 0 means DefaultTimeout.
	Timeout time.Duration
	// MaxAttempts, BaseBackoff and MaxBackoff shape the retries: attempt
	// n+1 comes BaseBackoff*2^(n-1) after attempt n, at most MaxBackoff;
	// after MaxAttempts the delivery has failed. Zero means the default.
	MaxAttempts int
	BaseBackoff time.Duration
	MaxBackoff  time.Duration
	Logger      *slog.Logger // nil discards
}

// Dispatcher queues and sends webhook deliveries. Publish queues; Run
// sends. It is safe for concurrent use.
type Dispatcher struct {
	store       *store.Store
	client      *http.Client
	maxAttempts int
	base, max   time.Duration
	log         *slog.Logger
	// wake, with room for one, tells Run that something was queued.
	wake chan struct{}
}

var _ events.Publisher = (*Dispatcher)(nil)

// New returns a Dispatcher for cfg; it sends nothing until Run. It panics
// when cfg.Store is nil.
func New(cfg Config) *Dispatcher {
	if cfg.Store == nil {
		panic("webhook: Config.Store is nil")
	}
	d := &Dispatcher{
		store: cfg.Store, client: cfg.Client, maxAttempts: cfg.MaxAttempts,
		base: cfg.BaseBackoff, max: cfg.MaxBackoff, log: cfg.Logger, wake: make(chan struct{}, 1),
	}
	if d.log == nil {
		d.log = slog.New(slog.DiscardHandler)
	}
	if d.maxAttempts <= 0 {
		d.maxAttempts = DefaultMaxAttempts
	}
	if d.base <= 0 {
		d.base = DefaultBaseBackoff
	}
	if d.max <= 0 {
		d.max = DefaultMaxBackoff
	}
	if d.client == nil {
		timeout := cfg.Timeout
		if timeout <= 0 {
			timeout = DefaultTimeout
		}
		d.client = &http.Client{
			Timeout: timeout,
			// A redirect is an answer, not a success: it is not followed.
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		}
	}
	return d
}

// Publish queues e for every webhook that takes its type, in one
// transaction, and wakes the worker. A failure is logged: an event that
// cannot be queued never fails the change it reports. When no webhook
// takes the event (a read-only transaction finds none), nothing is
// written: most events of a busy controller, such as every peer created,
// would otherwise each wait for the one writer.
func (d *Dispatcher) Publish(ctx context.Context, e events.Event) {
	var wanted bool
	err := d.store.ViewOne(ctx, func(tx *store.Tx) error { // every event: one statement, no transaction
		hooks, err := tx.ListWebhooks(ctx)
		for _, w := range hooks {
			wanted = wanted || w.Takes(string(e.Type))
		}
		return err
	})
	if err != nil {
		d.log.Error("webhook: queueing event", "event", string(e.Type), "err", err)
		return
	}
	if !wanted {
		return
	}
	body, err := json.Marshal(e)
	if err != nil {
		d.log.Error("webhook: encoding event", "event", string(e.Type), "err", err)
		return
	}
	var queued int
	err = d.store.InTx(ctx, func(tx *store.Tx) error {
		hooks, err := tx.ListWebhooks(ctx)
		if err != nil {
			return err
		}
		for _, w := range hooks {
			if !w.Takes(string(e.Type)) {
				continue
			}
			if _, err := tx.EnqueueDelivery(ctx, store.Delivery{WebhookID: w.ID, Event: string(e.Type), Payload: body}); err != nil {
				return err
			}
			queued++
		}
		return nil
	})
	if err != nil {
		d.log.Error("webhook: queueing event", "event", string(e.Type), "err", err)
		return
	}
	if queued > 0 {
		d.log.Debug("webhook: event queued", "event", string(e.Type), "deliveries", queued)
		d.poke()
	}
}

func (d *Dispatcher) poke() {
	select {
	case d.wake <- struct{}{}:
	default:
	}
}

// Test sends a sample event (events.Test) to webhook id now, once, and
// returns the delivery as logged: delivered, or failed with why. It is not
// retried.
func (d *Dispatcher) Test(ctx context.Context, id int64) (store.Delivery, error) {
	e := events.Event{Type: events.Test, At: time.Now().UTC(),
		Message: "a test event from wgfleet: if you read this, the webhook works"}
	body, err := json.Marshal(e)
	if err != nil {
		return store.Delivery{}, fmt.Errorf("encoding the test event: %w", err)
	}
	var (
		w   store.Webhook
		del store.Delivery
	)
	err = d.store.InTx(ctx, func(tx *store.Tx) error {
		var err error
		if w, err = tx.GetWebhook(ctx, id); err != nil {
			return err
		}
		// Not due for the worker: this call makes its one attempt.
		del, err = tx.EnqueueDelivery(ctx, store.Delivery{WebhookID: id, Event: string(e.Type), Payload: body,
			NextAttemptAt: time.Now().Add(24 * time.Hour)})
		return err
	})
	if err != nil {
		return store.Delivery{}, fmt.Errorf("testing webhook %d: %w", id, err)
	}
	status, serr := d.send(ctx, w, del)
	a := store.Attempt{Status: status, State: store.DeliveryDelivered}
	if serr != nil {
		a.State, a.Err = store.DeliveryFailed, serr.Error()
	}
	if err := d.record(ctx, del.ID, a); err != nil {
		return store.Delivery{}, fmt.Errorf("testing webhook %d: %w", id, err)
	}
	return d.delivery(ctx, del.ID)
}

func (d *Dispatcher) delivery(ctx context.Context, id int64) (store.Delivery, error) {
	var out store.Delivery
	err := d.store.InTx(ctx, func(tx *store.Tx) error {
		var err error
		out, err = tx.GetDelivery(ctx, id)
		return err
	})
	return out, err
}

func (d *Dispatcher) record(ctx context.Context, id int64, a store.Attempt) error {
	return d.store.InTx(ctx, func(tx *store.Tx) error { return tx.RecordAttempt(ctx, id, a, KeepDeliveries) })
}

// Run sends due deliveries until ctx ends, then waits for the attempts in
// flight and returns nil. A delivery cut short by the end is attempted
// again at the next start.
func (d *Dispatcher) Run(ctx context.Context) error {
	for {
		n := d.round(ctx)
		if ctx.Err() != nil {
			return nil
		}
		wait := idle
		if n == batch {
			wait = 0 // more may be due
		} else if next, ok := d.next(ctx); ok {
			wait = min(max(time.Until(next), 0), idle)
		}
		timer := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			timer.Stop()
			return nil
		case <-d.wake:
			timer.Stop()
		case <-timer.C:
		}
	}
}

// next is when the next pending delivery is due.
func (d *Dispatcher) next(ctx context.Context) (time.Time, bool) {
	var (
		at time.Time
		ok bool
	)
	err := d.store.View(ctx, func(tx *store.Tx) error {
		var err error
		at, ok, err = tx.NextDelivery(ctx)
		return err
	})
	if err != nil {
		if ctx.Err() == nil {
			d.log.Error("webhook: finding the next delivery", "err", err)
		}
		return time.Time{}, false
	}
	return at, ok
}

// round sends the deliveries due now, at most workers at a time, and
// returns how many it took.
func (d *Dispatcher) round(ctx context.Context) int {
	var (
		due   []store.Delivery
		hooks = map[int64]store.Webhook{}
	)
	err := d.store.InTx(ctx, func(tx *store.Tx) error {
		var err error
		if due, err = tx.DueDeliveries(ctx, batch); err != nil {
			return err
		}
		for _, del := range due {
			if _, ok := hooks[del.WebhookID]; ok {
				continue
			}
			w, err := tx.GetWebhook(ctx, del.WebhookID)
			if err != nil {
				return err
			}
			hooks[w.ID] = w
		}
		return nil
	})
	if err != nil {
		if ctx.Err() == nil {
			d.log.Error("webhook: reading due deliveries", "err", err)
		}
		return 0
	}
	var (
		wg  sync.WaitGroup
		sem = make(chan struct{}, workers)
	)
	for _, del := range due {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			d.attempt(ctx, hooks[del.WebhookID], del)
		})
	}
	wg.Wait()
	return len(due)
}

// attempt sends one delivery and records the outcome.
func (d *Dispatcher) attempt(ctx context.Context, w store.Webhook, del store.Delivery) {
	status, err := d.send(ctx, w, del)
	if ctx.Err() != nil {
		return // cut short by the shutdown: it stays due
	}
	a := store.Attempt{Status: status, State: store.DeliveryDelivered}
	attempts := del.Attempts + 1
	switch {
	case err == nil:
	case attempts >= d.maxAttempts:
		a.State, a.Err = store.DeliveryFailed, err.Error()
	default:
		a.State, a.Err, a.NextAt = store.DeliveryPending, err.Error(), time.Now().Add(d.backoff(attempts))
	}
	if rerr := d.record(context.WithoutCancel(ctx), del.ID, a); rerr != nil {
		d.log.Error("webhook: recording a delivery", "delivery_id", del.ID, "err", rerr)
		return
	}
	attrs := []any{"webhook_id", w.ID, "delivery_id", del.ID, "event", del.Event, "attempt", attempts, "status", status}
	switch a.State {
	case store.DeliveryDelivered:
		d.log.Info("webhook delivered", attrs...)
	case store.DeliveryFailed:
		d.log.Warn("webhook delivery failed for good", append(attrs, "err", err)...)
	default:
		d.log.Info("webhook delivery failed; retrying", append(attrs, "err", err, "next", a.NextAt)...)
	}
}

// backoff is the wait after the attempt-th failed attempt.
func (d *Dispatcher) backoff(attempt int) time.Duration {
	wait := d.base
	for i := 1; i < attempt && wait < d.max; i++ {
		wait *= 2
	}
	return min(wait, d.max)
}

// maxAnswer is how much of an answer's body is read (and dropped), so the
// connection can be reused.
const maxAnswer = 64 << 10

// send posts the delivery's body to the webhook, signed, and returns the
// answer's status and nil for a 2xx, else an error saying what went wrong
// (never the answer's body, which is the receiver's).
func (d *Dispatcher) send(ctx context.Context, w store.Webhook, del store.Delivery) (int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, w.URL, bytes.NewReader(del.Payload))
	if err != nil {
		return 0, fmt.Errorf("making the request: %w", err)
	}
	h := req.Header
	h.Set("Content-Type", "application/json")
	h.Set("User-Agent", "wgfleet-webhook/"+version.Get().Version)
	h.Set(EventHeader, del.Event)
	h.Set(DeliveryHeader, strconv.FormatInt(del.ID, 10))
	h.Set(SignatureHeader, Sign(w.Secret, del.Payload))
	res, err := d.client.Do(req)
	if err != nil {
		var uerr interface{ Timeout() bool }
		if errors.As(err, &uerr) && uerr.Timeout() {
			return 0, errors.New("no answer in time")
		}
		return 0, fmt.Errorf("no answer: %w", unwrapURL(err))
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(res.Body, maxAnswer))
	res.Body.Close()
	if res.StatusCode < 200 || res.StatusCode > 299 {
		return res.StatusCode, fmt.Errorf("answered %s", res.Status)
	}
	return res.StatusCode, nil
}

// unwrapURL drops the *url.Error wrapper, whose text repeats the URL.
func unwrapURL(err error) error {
	if u := errors.Unwrap(err); u != nil {
		return u
	}
	return err
}
