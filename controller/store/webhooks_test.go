package store

import (
	"bytes"
	"context"
	"database/sql"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/wgfleet/wgfleet/internal/testenv"
)

// webhooksMigration is the version that added webhooks and their
// deliveries.
const webhooksMigration = 14

// webhooksFixture: a webhook and a pending delivery written at 0014
// survive later migrations; a delivery in an unknown state is refused.
func webhooksFixture() migrationFixture {
	return migrationFixture{
		insert: func(t *testing.T, db *sql.DB) {
			sealed, err := testBox(t, 1).Seal([]byte("v14 webhook secret"), webhookSecretAAD(14))
			if err != nil {
				t.Fatal(err)
			}
			execAll(t, db,
				`INSERT INTO webhooks (id, url, events, secret_enc, created_by, created_at)
				 VALUES (14, 'https://v14.example.net/hook', 'node.offline,node.online', '`+sealed+`', 'user:admin', 1)`,
				`INSERT INTO webhook_deliveries (id, webhook_id, event, payload, next_attempt_at, created_at)
				 VALUES (14, 14, 'node.offline', '{"event":"node.offline"}', 1, 1)`,
			)
			if _, err := db.Exec(`UPDATE webhook_deliveries SET state = 'lost' WHERE id = 14`); err == nil {
				t.Fatal("a delivery state 'lost' was accepted")
			}
		},
		check: func(t *testing.T, s *Store) {
			err := s.InTx(context.Background(), func(tx *Tx) error {
				w, err := tx.GetWebhook(context.Background(), 14)
				if err != nil {
					return err
				}
				if string(w.Secret) != "v14 webhook secret" || !w.Takes("node.online") || w.Takes("peer.created") {
					t.Errorf("v14 webhook after migration: %+v", w)
				}
				d, err := tx.GetDelivery(context.Background(), 14)
				if err != nil {
					return err
				}
				if d.State != DeliveryPending || string(d.Payload) != `{"event":"node.offline"}` {
					t.Errorf("v14 delivery after migration: %+v", d)
				}
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
		},
	}
}

// TestWebhookSecretSealedAndResealed: the secret is in the database file
// in no form, and a rekey reseals it.
func TestWebhookSecretSealedAndResealed(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "c.db")
	s, _ := openAt(t, path, testBox(t, 0xA))
	const secret = "webhook-secret-that-must-not-leak"
	var w Webhook
	err := s.InTx(ctx, func(tx *Tx) error {
		var err error
		w, err = tx.CreateWebhook(ctx, Webhook{URL: "https://x.example/h", Events: []string{"node.drift"}, Secret: []byte(secret), CreatedBy: "user:admin"})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.db.ExecContext(ctx, "PRAGMA wal_checkpoint(TRUNCATE)"); err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(raw, []byte(secret)) {
		t.Error("the database file holds the webhook secret in clear")
	}
	got, err := s.Reseal(ctx, testBox(t, 0xB))
	if err != nil {
		t.Fatal(err)
	}
	testenv.Equal(t, "webhook secrets resealed", got.Webhooks, 1)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s2, _ := openAt(t, path, testBox(t, 0xB))
	err = s2.InTx(ctx, func(tx *Tx) error {
		back, err := tx.GetWebhook(ctx, w.ID)
		if err == nil && string(back.Secret) != secret {
			t.Errorf("secret after reseal %q", back.Secret)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestDeliveryQueue: due order, attempts recorded once per pending
// delivery, backoff rounded up to whole seconds, and the log bounded.
func TestDeliveryQueue(t *testing.T) {
	s, clock, _ := openTest(t)
	ctx := context.Background()
	in := func(fn func(tx *Tx) error) {
		t.Helper()
		if err := s.InTx(ctx, fn); err != nil {
			t.Fatal(err)
		}
	}
	var w Webhook
	in(func(tx *Tx) error {
		var err error
		w, err = tx.CreateWebhook(ctx, Webhook{URL: "https://x.example/h", Events: []string{"node.drift"}, Secret: []byte("s3cret-s3cret-s3cret"), CreatedBy: "u"})
		return err
	})
	var ids []int64
	for i := range 5 {
		in(func(tx *Tx) error {
			d, err := tx.EnqueueDelivery(ctx, Delivery{WebhookID: w.ID, Event: "node.drift", Payload: []byte(`{"n":` + string(rune('0'+i)) + `}`)})
			ids = append(ids, d.ID)
			return err
		})
	}
	var due []Delivery
	in(func(tx *Tx) (err error) { due, err = tx.DueDeliveries(ctx, 10); return })
	testenv.Equal(t, "due", len(due), 5)
	// A failure with a backoff of 1.5 s is due in 2 s, not before.
	in(func(tx *Tx) error {
		return tx.RecordAttempt(ctx, ids[0], Attempt{Status: 500, Err: "answered 500", State: DeliveryPending, NextAt: clock.Now().Add(1500 * time.Millisecond)}, 2)
	})
	clock.Advance(time.Second)
	in(func(tx *Tx) (err error) { due, err = tx.DueDeliveries(ctx, 10); return })
	testenv.Equal(t, "due after a second", len(due), 4)
	clock.Advance(time.Second)
	in(func(tx *Tx) (err error) { due, err = tx.DueDeliveries(ctx, 10); return })
	testenv.Equal(t, "due after two seconds", len(due), 5)
	// Finish four; the log keeps the newest 2 finished and every pending one.
	for _, id := range ids[1:] {
		in(func(tx *Tx) error {
			return tx.RecordAttempt(ctx, id, Attempt{Status: 200, State: DeliveryDelivered}, 2)
		})
	}
	// A finished delivery takes no more attempts.
	in(func(tx *Tx) error {
		return tx.RecordAttempt(ctx, ids[4], Attempt{Status: 500, State: DeliveryFailed}, 2)
	})
	var log []Delivery
	in(func(tx *Tx) (err error) { log, err = tx.ListDeliveries(ctx, w.ID, 100); return })
	if len(log) != 3 || log[0].ID != ids[4] || log[1].ID != ids[3] || log[2].ID != ids[0] {
		t.Fatalf("log after pruning: %+v", log)
	}
	testenv.Equal(t, "finished delivery attempts", log[0].Attempts, 1)
	testenv.Equal(t, "finished delivery state", log[0].State, DeliveryDelivered)
	testenv.Equal(t, "pending delivery status", log[2].LastStatus, 500)
}
