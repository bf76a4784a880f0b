package webhook

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/wgfleet/wgfleet/controller/events"
	"github.com/wgfleet/wgfleet/controller/fleet"
	"github.com/wgfleet/wgfleet/controller/store"
)

// Bounds of a webhook's input.
const (
	MinSecretLen = 16
	MaxSecretLen = 1024
	MaxURLLen    = 2048
)

// Input is the body of POST /api/webhooks. A nil field is "not given".
type Input struct {
	URL    *string  `json:"url"`
	Events []string `json:"events"`
	// Secret is the key of the signature header, 16 to 1024 bytes; it is
	// stored sealed and never shown again.
	Secret *string `json:"secret"`
}

// View is a webhook as the API shows it: never its secret.
type View struct {
	ID        int64     `json:"id"`
	URL       string    `json:"url"`
	Events    []string  `json:"events"`
	SecretSet bool      `json:"secret_set"`
	CreatedBy string    `json:"created_by"`
	CreatedAt time.Time `json:"created_at"`
}

func viewOf(w store.Webhook) View {
	return View{ID: w.ID, URL: w.URL, Events: w.Events, SecretSet: len(w.Secret) > 0, CreatedBy: w.CreatedBy, CreatedAt: w.CreatedAt}
}

// DeliveryView is one delivery of the log.
type DeliveryView struct {
	ID            int64           `json:"id"`
	WebhookID     int64           `json:"webhook_id"`
	Event         string          `json:"event"`
	State         string          `json:"state"` // pending, delivered or failed
	Attempts      int             `json:"attempts"`
	LastStatus    int             `json:"last_status"` // 0: none, or no answer
	LastError     string          `json:"last_error"`
	CreatedAt     time.Time       `json:"created_at"`
	NextAttemptAt *time.Time      `json:"next_attempt_at"` // null unless pending
	FinishedAt    *time.Time      `json:"finished_at"`
	Payload       json.RawMessage `json:"payload"` // the body sent
}

// DeliveryOf is the view of d.
func DeliveryOf(d store.Delivery) DeliveryView {
	v := DeliveryView{ID: d.ID, WebhookID: d.WebhookID, Event: d.Event, State: string(d.State), Attempts: d.Attempts,
		LastStatus: d.LastStatus, LastError: d.LastError, CreatedAt: d.CreatedAt, Payload: json.RawMessage(d.Payload)}
	if d.State == store.DeliveryPending {
		v.NextAttemptAt = &d.NextAttemptAt
	}
	if !d.FinishedAt.IsZero() {
		v.FinishedAt = &d.FinishedAt
	}
	return v
}

// checkURL refuses what is not an absolute http or https URL with a host.
func checkURL(raw string) (string, error) {
	raw = strings.TrimSpace(raw)
	if raw == "" {
		return "", fleet.Invalid("url", "is required: where to POST the events, e.g. https://hooks.example.com/wgfleet")
	}
	if len(raw) > MaxURLLen {
		return "", fleet.Invalid("url", "is longer than %d characters", MaxURLLen)
	}
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil || u.Fragment != "" {
		return "", fleet.Invalid("url", "must be an http or https URL with a host, without credentials or fragment")
	}
	return u.String(), nil
}

// Create registers a webhook, audited as "webhook.create" (without its
// secret). Errors: *fleet.ValidationError for url, events or secret.
func (d *Dispatcher) Create(ctx context.Context, actor fleet.Actor, in Input) (View, error) {
	u := ""
	if in.URL != nil {
		u = *in.URL
	}
	u, err := checkURL(u)
	if err != nil {
		return View{}, err
	}
	if len(in.Events) == 0 {
		return View{}, fleet.Invalid("events", "name at least one event: %v", events.Types())
	}
	var evs []string
	for _, e := range in.Events {
		t, err := events.ParseType(e)
		if err != nil {
			return View{}, fleet.Invalid("events", "%v", err)
		}
		if !slices.Contains(evs, string(t)) {
			evs = append(evs, string(t))
		}
	}
	if in.Secret == nil || len(*in.Secret) < MinSecretLen || len(*in.Secret) > MaxSecretLen {
		return View{}, fleet.Invalid("secret", "is required: %d to %d bytes, the key of the signature your receiver checks", MinSecretLen, MaxSecretLen)
	}
	var w store.Webhook
	err = d.store.InTx(ctx, func(tx *store.Tx) error {
		var err error
		w, err = tx.CreateWebhook(ctx, store.Webhook{URL: u, Events: evs, Secret: []byte(*in.Secret), CreatedBy: string(actor)})
		if err != nil {
			return err
		}
		return auditTx(ctx, tx, actor, "webhook.create", w.ID, map[string]any{"url": w.URL, "events": w.Events})
	})
	if err != nil {
		return View{}, fmt.Errorf("creating webhook: %w", err)
	}
	d.log.Info("webhook created", "webhook_id", w.ID, "events", evs, "actor", string(actor))
	return viewOf(w), nil
}

// List returns every webhook, without secrets.
func (d *Dispatcher) List(ctx context.Context) ([]View, error) {
	var hooks []store.Webhook
	err := d.store.View(ctx, func(tx *store.Tx) error {
		var err error
		hooks, err = tx.ListWebhooks(ctx)
		return err
	})
	if err != nil {
		return nil, err
	}
	out := make([]View, len(hooks))
	for i, w := range hooks {
		out[i] = viewOf(w)
	}
	return out, nil
}

// Delete removes a webhook and its deliveries, pending ones included,
// audited as "webhook.delete"; store.ErrWebhookNotFound for an unknown id.
func (d *Dispatcher) Delete(ctx context.Context, actor fleet.Actor, id int64) error {
	err := d.store.InTx(ctx, func(tx *store.Tx) error {
		w, err := tx.GetWebhook(ctx, id)
		if err != nil {
			return err
		}
		if err := tx.DeleteWebhook(ctx, id); err != nil {
			return err
		}
		return auditTx(ctx, tx, actor, "webhook.delete", id, map[string]any{"url": w.URL})
	})
	if err != nil {
		return fmt.Errorf("deleting webhook %d: %w", id, err)
	}
	d.log.Info("webhook deleted", "webhook_id", id, "actor", string(actor))
	return nil
}

// Deliveries returns the newest deliveries of a webhook (at most
// KeepDeliveries finished ones and every pending one), newest first;
// store.ErrWebhookNotFound for an unknown id.
func (d *Dispatcher) Deliveries(ctx context.Context, id int64, limit int) ([]DeliveryView, error) {
	if limit <= 0 || limit > KeepDeliveries {
		limit = KeepDeliveries
	}
	var list []store.Delivery
	err := d.store.View(ctx, func(tx *store.Tx) error {
		if _, err := tx.GetWebhook(ctx, id); err != nil {
			return err
		}
		var err error
		list, err = tx.ListDeliveries(ctx, id, limit)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("deliveries of webhook %d: %w", id, err)
	}
	out := make([]DeliveryView, len(list))
	for i, del := range list {
		out[i] = DeliveryOf(del)
	}
	return out, nil
}

func auditTx(ctx context.Context, tx *store.Tx, actor fleet.Actor, action string, id int64, details map[string]any) error {
	raw, err := json.Marshal(details)
	if err != nil {
		return fmt.Errorf("encoding audit details of %s: %w", action, err)
	}
	_, err = tx.AppendAudit(ctx, store.AuditEntry{Actor: string(actor), Action: action, TargetType: "webhook",
		TargetID: strconv.FormatInt(id, 10), Details: raw})
	return err
}
