package store

import (
	"context"
	"errors"
	"testing"
	"time"
)

// TestViewOne holds ViewOne to View's promises for a read of one
// statement: it sees what was committed before it (by this store or by
// another on the same database, so a token revoked elsewhere is refused
// at once), a write inside it fails, a Store call inside it is refused as
// nested, and on SQLite, where no transaction holds the statements
// together, a second statement fails instead of reading another snapshot.
func TestViewOne(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	s, _, dsn := openTest(t)
	other, _ := openAt(t, dsn, testBox(t, 1)) // another controller on the database

	t.Run("sees what was committed, here and elsewhere", func(t *testing.T) {
		hash := HashToken("wgf_viewone")
		if _, err := s.LookupAPIToken(ctx, hash); !errors.Is(err, ErrAPITokenNotFound) {
			t.Fatalf("before the token: err = %v, want ErrAPITokenNotFound", err)
		}
		tok, err := other.CreateAPIToken(ctx, "ci", hash, "wgf_view", time.Time{})
		if err != nil {
			t.Fatal(err)
		}
		got, err := s.LookupAPIToken(ctx, hash)
		if err != nil || got.ID != tok.ID {
			t.Fatalf("token created by another store: %+v, %v; want id %d", got, err, tok.ID)
		}
		if err := other.RevokeAPIToken(ctx, tok.ID); err != nil {
			t.Fatal(err)
		}
		if got, err := s.LookupAPIToken(ctx, hash); !errors.Is(err, ErrAPITokenNotFound) {
			t.Fatalf("token revoked by another store: %+v, %v; want ErrAPITokenNotFound at once", got, err)
		}
	})

	t.Run("a write fails", func(t *testing.T) {
		err := s.ViewOne(ctx, func(tx *Tx) error {
			_, err := tx.CreateAPIToken(ctx, "w", HashToken("wgf_write"), "wgf_writ", time.Time{})
			return err
		})
		if err == nil {
			t.Fatal("a write inside ViewOne succeeded")
		}
		if _, err := s.LookupAPIToken(ctx, HashToken("wgf_write")); !errors.Is(err, ErrAPITokenNotFound) {
			t.Fatalf("after the refused write: err = %v, want ErrAPITokenNotFound", err)
		}
	})

	t.Run("a second statement fails on SQLite", func(t *testing.T) {
		var first, second error
		err := s.ViewOne(ctx, func(tx *Tx) error {
			_, first = tx.ListWebhooks(ctx)
			_, second = tx.ListWebhooks(ctx)
			return second
		})
		if first != nil {
			t.Fatalf("the first statement: %v", first)
		}
		if onPostgres() {
			// ViewOne is View there: one transaction holds both.
			if err != nil || second != nil {
				t.Fatalf("on PostgreSQL: %v, %v; want both statements run", err, second)
			}
			return
		}
		if !errors.Is(second, errSecondStatement) || !errors.Is(err, errSecondStatement) {
			t.Fatalf("the second statement: %v, ViewOne: %v; want errSecondStatement", second, err)
		}
	})

	t.Run("a Store call inside is refused", func(t *testing.T) {
		var inner error
		err := s.ViewOne(ctx, func(tx *Tx) error {
			_, inner = s.LookupAPIToken(ctx, HashToken("wgf_nested"))
			_, err := tx.ListWebhooks(ctx)
			return err
		})
		if err != nil {
			t.Fatalf("the outer ViewOne: %v", err)
		}
		if !errors.Is(inner, ErrNestedTx) {
			t.Fatalf("a Store call inside ViewOne: %v, want ErrNestedTx", inner)
		}
		if err := s.View(ctx, func(*Tx) error { return s.ViewOne(ctx, func(*Tx) error { return nil }) }); !errors.Is(err, ErrNestedTx) {
			t.Fatalf("ViewOne inside View: %v, want ErrNestedTx", err)
		}
	})

	t.Run("an ended context", func(t *testing.T) {
		done, stop := context.WithCancel(ctx)
		stop()
		ran := false
		err := s.ViewOne(done, func(*Tx) error { ran = true; return nil })
		if !errors.Is(err, context.Canceled) || ran {
			t.Fatalf("ViewOne with an ended context: %v (fn ran: %v), want context.Canceled without running fn", err, ran)
		}
	})
}
