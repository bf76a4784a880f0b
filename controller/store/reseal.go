package store

import (
	"context"
	"errors"
	"fmt"

	"github.com/wgfleet/wgfleet/controller/secretbox"
)

// Resealed counts the values Reseal sealed again under the new key.
type Resealed struct {
	Nodes         int // node HMAC secrets
	PrevSecrets   int // previous node secrets of unfinished rotations
	PrivateKeys   int // peer private keys held by the controller
	PresharedKeys int // peer preshared keys
	Webhooks      int // webhook signing secrets
	TOTPSecrets   int // users' TOTP secrets
}

// Reseal rotates the master key: in one transaction it opens every sealed
// value (node secrets, peer private and preshared keys, webhook secrets, users' TOTP secrets, the master key
// check) with the store's current box and seals it again with newBox,
// bound to the same row and column. On success the store uses newBox from
// then on; on any error nothing is changed and the store keeps its box.
//
// Reseal holds the write lock for the whole transaction and waits for the
// store's other transactions to finish first. Another process that has the
// database open with the old key (a running controller) is not told: stop
// it before rotating.
func (s *Store) Reseal(ctx context.Context, newBox *secretbox.Box) (Resealed, error) {
	if newBox == nil {
		return Resealed{}, errors.New("store: reseal: no secretbox")
	}
	if err := s.enter(); err != nil {
		return Resealed{}, err
	}
	s.boxMu.Lock()
	defer s.boxMu.Unlock()
	var out Resealed
	err := s.runTx(ctx, s.box, func(tx *Tx) error {
		r := resealer{tx: tx, newBox: newBox}
		var err error
		if out.Nodes, err = r.column(ctx, "nodes", "secret_enc", nodeSecretAAD); err != nil {
			return err
		}
		if out.PrevSecrets, err = r.column(ctx, "nodes", "secret_prev_enc", nodePrevSecretAAD); err != nil {
			return err
		}
		if out.PrivateKeys, err = r.column(ctx, "peers", "private_key_enc", peerPrivateKeyAAD); err != nil {
			return err
		}
		if out.PresharedKeys, err = r.column(ctx, "peers", "preshared_key_enc", peerPresharedKeyAAD); err != nil {
			return err
		}
		if out.Webhooks, err = r.column(ctx, "webhooks", "secret_enc", webhookSecretAAD); err != nil {
			return err
		}
		if out.TOTPSecrets, err = r.column(ctx, "users", "totp_secret_enc", userTOTPAAD); err != nil {
			return err
		}
		return r.keyCheck(ctx)
	})
	if err != nil {
		return Resealed{}, err
	}
	s.box = newBox
	return out, nil
}

// resealer moves sealed values from tx's box to newBox inside tx.
type resealer struct {
	tx     *Tx
	newBox *secretbox.Box
}

// sealedValue is one row's sealed value in the column being resealed.
type sealedValue struct {
	id     int64
	sealed string
}

// column reseals every non-NULL value of table.col, bound by aad to the
// row's id, and returns how many it rewrote. table and col are constants
// of this file, never input.
func (r resealer) column(ctx context.Context, table, col string, aad func(int64) string) (int, error) {
	rows, err := r.tx.tx.QueryContext(ctx, "SELECT id, "+col+" FROM "+table+" WHERE "+col+" IS NOT NULL ORDER BY id")
	if err != nil {
		return 0, fmt.Errorf("store: reseal: reading %s.%s: %w", table, col, err)
	}
	var vals []sealedValue
	for rows.Next() {
		var v sealedValue
		if err := rows.Scan(&v.id, &v.sealed); err != nil {
			rows.Close()
			return 0, fmt.Errorf("store: reseal: reading %s.%s: %w", table, col, err)
		}
		vals = append(vals, v)
	}
	if err := errors.Join(rows.Err(), rows.Close()); err != nil {
		return 0, fmt.Errorf("store: reseal: reading %s.%s: %w", table, col, err)
	}
	for _, v := range vals {
		sealed, err := r.reseal(v.sealed, aad(v.id))
		if err != nil {
			return 0, fmt.Errorf("store: reseal: %s.%s of id %d: %w", table, col, v.id, err)
		}
		_, err = r.tx.tx.ExecContext(ctx, "UPDATE "+table+" SET "+col+" = ? WHERE id = ?", sealed, v.id)
		if err != nil {
			return 0, fmt.Errorf("store: reseal: writing %s.%s of id %d: %w", table, col, v.id, err)
		}
	}
	return len(vals), nil
}

// keyCheck reseals the master key check so the next Open accepts only
// the new key.
func (r resealer) keyCheck(ctx context.Context) error {
	var sealed string
	err := r.tx.tx.QueryRowContext(ctx, "SELECT value FROM meta WHERE key = ?", keyCheckKey).Scan(&sealed)
	if err != nil {
		return fmt.Errorf("store: reseal: reading master key check: %w", err)
	}
	if sealed, err = r.reseal(sealed, keyCheckAAD); err != nil {
		return fmt.Errorf("store: reseal: master key check: %w", err)
	}
	if _, err := r.tx.tx.ExecContext(ctx, "UPDATE meta SET value = ? WHERE key = ?", sealed, keyCheckKey); err != nil {
		return fmt.Errorf("store: reseal: writing master key check: %w", err)
	}
	return nil
}

// reseal opens one value with the old box and seals it with the new one.
// The plaintext is wiped before it returns.
func (r resealer) reseal(sealed, aad string) (string, error) {
	pt, err := r.tx.box.Open(sealed, aad)
	if err != nil {
		return "", err
	}
	defer clear(pt)
	return r.newBox.Seal(pt, aad)
}
