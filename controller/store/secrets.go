package store

import (
	"database/sql"
	"fmt"

	"golang.zx2c4.com/wireguard/wgctrl/wgtypes"
)

// Additional authenticated data for each sealed column: a sealed value
// opens only in the row and column it was written to.
func nodeSecretAAD(nodeID int64) string { return fmt.Sprintf("node:%d:secret", nodeID) }

func nodePrevSecretAAD(nodeID int64) string { return fmt.Sprintf("node:%d:secret_prev", nodeID) }

func peerPrivateKeyAAD(peerID int64) string { return fmt.Sprintf("peer:%d:private_key", peerID) }

func peerPresharedKeyAAD(peerID int64) string { return fmt.Sprintf("peer:%d:preshared_key", peerID) }

// sealKey seals an optional key; nil is stored as NULL.
func (tx *Tx) sealKey(k *wgtypes.Key, aad string) (sql.NullString, error) {
	if k == nil {
		return sql.NullString{}, nil
	}
	s, err := tx.box.Seal(k[:], aad)
	if err != nil {
		return sql.NullString{}, err
	}
	return sql.NullString{String: s, Valid: true}, nil
}

// openKey opens an optional sealed key; NULL gives nil.
func (tx *Tx) openKey(n sql.NullString, aad string) (*wgtypes.Key, error) {
	if !n.Valid {
		return nil, nil
	}
	b, err := tx.box.Open(n.String, aad)
	if err != nil {
		return nil, fmt.Errorf("opening %s: %w", aad, err)
	}
	k, err := wgtypes.NewKey(b)
	if err != nil {
		return nil, fmt.Errorf("opening %s: %w", aad, err)
	}
	return &k, nil
}
