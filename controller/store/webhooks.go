package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"
)

// ErrWebhookNotFound: no webhook has that id.
var ErrWebhookNotFound = fmt.Errorf("webhook %w", ErrNotFound)

func webhookSecretAAD(id int64) string { return fmt.Sprintf("webhook:%d:secret", id) }

// Webhook is an HTTP endpoint told about fleet events. Secret is the key
// of the HMAC signature of each delivery, sealed at rest.
type Webhook struct {
	ID        int64
	URL       string
	Events    []string // event names, as controller/events spells them
	Secret    []byte
	CreatedBy string
	CreatedAt time.Time
}

// Takes reports whether the webhook subscribes to event.
func (w Webhook) Takes(event string) bool {
	for _, e := range w.Events {
		if e == event {
			return true
		}
	}
	return false
}

// DeliveryState is where a delivery stands.
type DeliveryState string

// The states of a delivery.
const (
	DeliveryPending   DeliveryState = "pending"   // queued, or waiting for its next attempt
	DeliveryDelivered DeliveryState = "delivered" // a 2xx answer
	DeliveryFailed    DeliveryState = "failed"    // every attempt failed
)

// Delivery is one event sent, or to be sent, to one webhook.
type Delivery struct {
	ID            int64
	WebhookID     int64
	Event         string
	Payload       []byte // the JSON body, as sent
	State         DeliveryState
	Attempts      int
	NextAttemptAt time.Time
	LastStatus    int    // HTTP status of the last attempt; 0: none or no answer
	LastError     string // why the last attempt failed; "" when it did not
	CreatedAt     time.Time
	FinishedAt    time.Time // zero while pending
}

// CreateWebhook stores w (its secret sealed) and returns it with its id
// and CreatedAt.
func (tx *Tx) CreateWebhook(ctx context.Context, w Webhook) (Webhook, error) {
	if w.URL == "" || len(w.Events) == 0 || len(w.Secret) == 0 || w.CreatedBy == "" {
		return Webhook{}, fmt.Errorf("creating webhook: %w", invalidf("url, events, secret and creator must be set"))
	}
	w.CreatedAt = tx.now
	err := tx.tx.QueryRowContext(ctx,
		"INSERT INTO webhooks (url, events, secret_enc, created_by, created_at) VALUES (?, ?, '', ?, ?) RETURNING id",
		w.URL, strings.Join(w.Events, ","), w.CreatedBy, w.CreatedAt.Unix()).Scan(&w.ID)
	if err != nil {
		return Webhook{}, fmt.Errorf("creating webhook: %w", err)
	}
	// Sealed once the row has its id, which the aad names.
	sealed, err := tx.box.Seal(w.Secret, webhookSecretAAD(w.ID))
	if err != nil {
		return Webhook{}, fmt.Errorf("creating webhook: sealing secret: %w", err)
	}
	if _, err := tx.tx.ExecContext(ctx, "UPDATE webhooks SET secret_enc = ? WHERE id = ?", sealed, w.ID); err != nil {
		return Webhook{}, fmt.Errorf("creating webhook: %w", err)
	}
	return w, nil
}

const webhookColumns = "id, url, events, secret_enc, created_by, created_at"

func (tx *Tx) scanWebhook(sc scanner) (Webhook, error) {
	var (
		w              Webhook
		events, sealed string
		created        int64
	)
	if err := sc.Scan(&w.ID, &w.URL, &events, &sealed, &w.CreatedBy, &created); err != nil {
		return Webhook{}, err
	}
	w.Events = strings.Split(events, ",")
	w.CreatedAt = unixTime(created)
	secret, err := tx.box.Open(sealed, webhookSecretAAD(w.ID))
	if err != nil {
		return Webhook{}, fmt.Errorf("opening the secret of webhook %d: %w", w.ID, err)
	}
	w.Secret = secret
	return w, nil
}

// GetWebhook returns the webhook with id, or ErrWebhookNotFound.
func (tx *Tx) GetWebhook(ctx context.Context, id int64) (Webhook, error) {
	w, err := tx.scanWebhook(tx.tx.QueryRowContext(ctx, "SELECT "+webhookColumns+" FROM webhooks WHERE id = ?", id))
	if errors.Is(err, sql.ErrNoRows) {
		return Webhook{}, fmt.Errorf("webhook %d: %w", id, ErrWebhookNotFound)
	}
	if err != nil {
		return Webhook{}, fmt.Errorf("reading webhook %d: %w", id, err)
	}
	return w, nil
}

// ListWebhooks returns every webhook, in id order.
func (tx *Tx) ListWebhooks(ctx context.Context) ([]Webhook, error) {
	rows, err := tx.tx.QueryContext(ctx, "SELECT "+webhookColumns+" FROM webhooks ORDER BY id")
	if err != nil {
		return nil, fmt.Errorf("listing webhooks: %w", err)
	}
	defer rows.Close()
	out := []Webhook{}
	for rows.Next() {
		w, err := tx.scanWebhook(rows)
		if err != nil {
			return nil, fmt.Errorf("listing webhooks: %w", err)
		}
		out = append(out, w)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("listing webhooks: %w", err)
	}
	return out, nil
}

// DeleteWebhook deletes a webhook and its deliveries; ErrWebhookNotFound
// for an unknown id.
func (tx *Tx) DeleteWebhook(ctx context.Context, id int64) error {
	res, err := tx.tx.ExecContext(ctx, "DELETE FROM webhooks WHERE id = ?", id)
	if err != nil {
		return fmt.Errorf("deleting webhook %d: %w", id, err)
	}
	return requireRow(res, fmt.Errorf("webhook %d: %w", id, ErrWebhookNotFound))
}

// EnqueueDelivery queues d (pending, no attempt yet) and returns it with
// its id and CreatedAt. A zero NextAttemptAt means now.
func (tx *Tx) EnqueueDelivery(ctx context.Context, d Delivery) (Delivery, error) {
	d.State, d.Attempts, d.CreatedAt = DeliveryPending, 0, tx.now
	if d.NextAttemptAt.IsZero() {
		d.NextAttemptAt = tx.now
	}
	d.NextAttemptAt = unixTime(d.NextAttemptAt.Unix())
	err := tx.tx.QueryRowContext(ctx,
		`INSERT INTO webhook_deliveries (webhook_id, event, payload, state, next_attempt_at, created_at)
		 VALUES (?, ?, ?, 'pending', ?, ?) RETURNING id`,
		d.WebhookID, d.Event, string(d.Payload), d.NextAttemptAt.Unix(), d.CreatedAt.Unix()).Scan(&d.ID)
	switch {
	case isForeignKey(err):
		return Delivery{}, fmt.Errorf("queueing %s for webhook %d: %w", d.Event, d.WebhookID, ErrWebhookNotFound)
	case err != nil:
		return Delivery{}, fmt.Errorf("queueing %s for webhook %d: %w", d.Event, d.WebhookID, err)
	}
	return d, nil
}

const deliveryColumns = "id, webhook_id, event, payload, state, attempts, next_attempt_at, last_status, last_error, created_at, finished_at"

func scanDelivery(sc scanner) (Delivery, error) {
	var (
		d              Delivery
		payload, state string
		next, created  int64
		finished       sql.NullInt64
	)
	if err := sc.Scan(&d.ID, &d.WebhookID, &d.Event, &payload, &state, &d.Attempts, &next, &d.LastStatus, &d.LastError, &created, &finished); err != nil {
		return Delivery{}, err
	}
	d.Payload, d.State = []byte(payload), DeliveryState(state)
	d.NextAttemptAt, d.CreatedAt, d.FinishedAt = unixTime(next), unixTime(created), fromNullTime(finished)
	return d, nil
}

func (tx *Tx) queryDeliveries(ctx context.Context, what, q string, args ...any) ([]Delivery, error) {
	rows, err := tx.tx.QueryContext(ctx, "SELECT "+deliveryColumns+" FROM webhook_deliveries "+q, args...)
	if err != nil {
		return nil, fmt.Errorf("listing %s: %w", what, err)
	}
	defer rows.Close()
	out := []Delivery{}
	for rows.Next() {
		d, err := scanDelivery(rows)
		if err != nil {
			return nil, fmt.Errorf("listing %s: %w", what, err)
		}
		out = append(out, d)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("listing %s: %w", what, err)
	}
	return out, nil
}

// DueDeliveries returns at most limit pending deliveries whose next
// attempt is due at the transaction's time, the longest waiting first.
func (tx *Tx) DueDeliveries(ctx context.Context, limit int) ([]Delivery, error) {
	return tx.queryDeliveries(ctx, "due deliveries",
		"WHERE state = 'pending' AND next_attempt_at <= ? ORDER BY next_attempt_at, id LIMIT ?", tx.now.Unix(), limit)
}

// NextDelivery returns when the next pending delivery is due, and false
// when none is pending.
func (tx *Tx) NextDelivery(ctx context.Context) (time.Time, bool, error) {
	var next sql.NullInt64
	err := tx.tx.QueryRowContext(ctx, "SELECT min(next_attempt_at) FROM webhook_deliveries WHERE state = 'pending'").Scan(&next)
	if err != nil {
		return time.Time{}, false, fmt.Errorf("finding the next delivery: %w", err)
	}
	return fromNullTime(next), next.Valid, nil
}

// ListDeliveries returns a webhook's deliveries, newest first, at most
// limit.
func (tx *Tx) ListDeliveries(ctx context.Context, webhookID int64, limit int) ([]Delivery, error) {
	return tx.queryDeliveries(ctx, fmt.Sprintf("deliveries of webhook %d", webhookID),
		"WHERE webhook_id = ? ORDER BY id DESC LIMIT ?", webhookID, limit)
}

// GetDelivery returns one delivery, or an error wrapping ErrNotFound.
func (tx *Tx) GetDelivery(ctx context.Context, id int64) (Delivery, error) {
	d, err := scanDelivery(tx.tx.QueryRowContext(ctx, "SELECT "+deliveryColumns+" FROM webhook_deliveries WHERE id = ?", id))
	if errors.Is(err, sql.ErrNoRows) {
		return Delivery{}, fmt.Errorf("delivery %d: %w", id, ErrNotFound)
	}
	if err != nil {
		return Delivery{}, fmt.Errorf("reading delivery %d: %w", id, err)
	}
	return d, nil
}

// Attempt is the outcome of one attempt at a delivery.
type Attempt struct {
	Status int    // the answer's HTTP status; 0 when there was none
	Err    string // why it failed; "" for a success
	// State is where the delivery stands after it: delivered, failed (no
	// attempt left) or pending (NextAt is the next attempt).
	State  DeliveryState
	NextAt time.Time
}

// RecordAttempt counts one attempt at a pending delivery and records its
// outcome; a delivery no longer pending (or gone with its webhook) is left
// alone. Then it keeps only the newest keep finished deliveries of the
// webhook, so the log stays bounded.
func (tx *Tx) RecordAttempt(ctx context.Context, id int64, a Attempt, keep int) error {
	var finished sql.NullInt64
	if a.State != DeliveryPending {
		finished = nullTime(tx.now)
	}
	next := a.NextAt
	if next.IsZero() {
		next = tx.now
	}
	// Rounded up to the whole second the column keeps, so that a backoff
	// is never shorter than asked.
	if next.Truncate(time.Second).Before(next) {
		next = next.Truncate(time.Second).Add(time.Second)
	}
	var webhookID int64
	err := tx.tx.QueryRowContext(ctx,
		`UPDATE webhook_deliveries SET attempts = attempts + 1, state = ?, last_status = ?, last_error = ?,
		 next_attempt_at = ?, finished_at = ? WHERE id = ? AND state = 'pending' RETURNING webhook_id`,
		string(a.State), a.Status, a.Err, next.Unix(), finished, id).Scan(&webhookID)
	if errors.Is(err, sql.ErrNoRows) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("recording an attempt at delivery %d: %w", id, err)
	}
	_, err = tx.tx.ExecContext(ctx,
		`DELETE FROM webhook_deliveries WHERE webhook_id = ? AND state <> 'pending' AND id NOT IN
		 (SELECT id FROM webhook_deliveries WHERE webhook_id = ? AND state <> 'pending' ORDER BY id DESC LIMIT ?)`,
		webhookID, webhookID, keep)
	if err != nil {
		return fmt.Errorf("pruning the deliveries of webhook %d: %w", webhookID, err)
	}
	return nil
}
