package store

import (
	"context"
	"database/sql"
	"errors"
	"net/netip"
	"testing"
	"time"

	"github.com/wgfleet/wgfleet/internal/testenv"
)

// enrollmentTokensMigration is the version that added enrollment_tokens.
const enrollmentTokensMigration = 12

// enrollmentTokensFixture: a token written at 0012 reads back whole.
func enrollmentTokensFixture() migrationFixture {
	return migrationFixture{
		insert: func(t *testing.T, db *sql.DB) {
			execAll(t, db,
				`INSERT INTO enrollment_tokens (id, token_hash, prefix, name, labels, ip_pool_cidr, created_by, created_at, expires_at)
				 VALUES (9, zeroblob(32), 'wgj1.v9', 'v9-node', '{"region":"eu-west"}', '10.9.0.0/24', 'cli', 1, 2)`,
			)
			if _, err := db.Exec(`INSERT INTO enrollment_tokens (token_hash, prefix, labels, created_by, created_at, expires_at)
				VALUES (randomblob(32), 'x', 'not json', 'cli', 1, 2)`); err == nil {
				t.Fatal("labels that are not JSON accepted")
			}
		},
		check: func(t *testing.T, s *Store) {
			toks, err := s.ListEnrollmentTokens(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			if len(toks) != 1 {
				t.Fatalf("%d tokens after migration, want 1", len(toks))
			}
			tok := toks[0]
			testenv.Equal(t, "name", tok.Name, "v9-node")
			testenv.Equal(t, "labels", tok.Labels["region"], "eu-west")
			testenv.Equal(t, "pool", tok.IPPool.String(), "10.9.0.0/24")
			testenv.Equal(t, "expires", tok.ExpiresAt.Unix(), int64(2))
		},
	}
}

func TestEnrollmentTokenUseOnce(t *testing.T) {
	s, clock, _ := openTest(t)
	ctx := context.Background()
	var tok EnrollmentToken
	err := s.InTx(ctx, func(tx *Tx) error {
		var err error
		tok, err = tx.CreateEnrollmentToken(ctx, EnrollmentToken{
			Hash: HashToken("secret"), Prefix: "wgj1.abc", Labels: map[string]string{"region": "eu"},
			IPPool: netip.MustParsePrefix("10.1.0.0/24"), CreatedBy: "cli", ExpiresAt: clock.Now().Add(time.Hour),
		})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	testenv.Equal(t, "state", tok.State(clock.Now()), EnrollmentActive)
	testenv.Equal(t, "expired later", tok.State(clock.Now().Add(time.Hour)), EnrollmentExpired)
	n, err := s.CreateNode(ctx, testNode("joined"))
	if err != nil {
		t.Fatal(err)
	}
	use := func() error {
		return s.InTx(ctx, func(tx *Tx) error { return tx.UseEnrollmentToken(ctx, tok.ID, n.ID) })
	}
	if err := use(); err != nil {
		t.Fatal(err)
	}
	if err := use(); !errors.Is(err, ErrConflict) {
		t.Fatalf("second use: %v, want ErrConflict", err)
	}
	got, err := inTx(ctx, s, func(tx *Tx) (EnrollmentToken, error) { return tx.LookupEnrollmentToken(ctx, HashToken("secret")) })
	if err != nil {
		t.Fatal(err)
	}
	testenv.Equal(t, "state after use", got.State(clock.Now()), EnrollmentUsed)
	testenv.Equal(t, "node", got.NodeID, n.ID)
	if err := s.InTx(ctx, func(tx *Tx) error { return tx.UseEnrollmentToken(ctx, 999, n.ID) }); !errors.Is(err, ErrEnrollmentTokenNotFound) {
		t.Fatalf("unknown token: %v", err)
	}
	if _, err := inTx(ctx, s, func(tx *Tx) (EnrollmentToken, error) { return tx.LookupEnrollmentToken(ctx, HashToken("other")) }); !errors.Is(err, ErrEnrollmentTokenNotFound) {
		t.Fatalf("unknown hash: %v", err)
	}
}

// TestEnrollmentTokenRefusedWhenRevokedOrExpired: the store's guard holds
// whatever the caller checked before.
func TestEnrollmentTokenRefusedWhenRevokedOrExpired(t *testing.T) {
	s, clock, _ := openTest(t)
	ctx := context.Background()
	n, err := s.CreateNode(ctx, testNode("joined"))
	if err != nil {
		t.Fatal(err)
	}
	mk := func(secret string) EnrollmentToken {
		tok, err := inTx(ctx, s, func(tx *Tx) (EnrollmentToken, error) {
			return tx.CreateEnrollmentToken(ctx, EnrollmentToken{Hash: HashToken(secret), Prefix: "p", CreatedBy: "cli", ExpiresAt: clock.Now().Add(time.Minute)})
		})
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	revoked, expired := mk("a"), mk("b")
	if err := s.InTx(ctx, func(tx *Tx) error { return tx.RevokeEnrollmentToken(ctx, revoked.ID) }); err != nil {
		t.Fatal(err)
	}
	clock.Advance(time.Minute)
	for _, tok := range []EnrollmentToken{revoked, expired} {
		if err := s.InTx(ctx, func(tx *Tx) error { return tx.UseEnrollmentToken(ctx, tok.ID, n.ID) }); !errors.Is(err, ErrConflict) {
			t.Errorf("token %d: %v, want ErrConflict", tok.ID, err)
		}
	}
	if err := s.InTx(ctx, func(tx *Tx) error { return tx.RevokeEnrollmentToken(ctx, 999) }); !errors.Is(err, ErrEnrollmentTokenNotFound) {
		t.Errorf("revoking an unknown token: %v", err)
	}
}
