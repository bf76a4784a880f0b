package store

import (
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/mattn/go-sqlite3"

	"github.com/wgfleet/wgfleet/controller/fault"
)

// Errors returned by the store, always wrapped with context. Test with
// errors.Is; each carries a fault code. Allocation failures pass
// ipam.ErrPoolExhausted through.
var (
	// ErrNotFound reports a missing row. The per-entity errors below wrap
	// it, so errors.Is(err, ErrNotFound) holds for all of them.
	ErrNotFound = fault.New(fault.ENOTFOUND, "not found")
	// ErrConflict reports a uniqueness violation: a duplicate node name,
	// username or peer key, or an address already in use.
	ErrConflict = fault.New(fault.ECONFLICT, "conflict")
	// ErrInvalid reports a value the store refuses to write, such as an
	// unmasked pool or an unknown status.
	ErrInvalid = fault.New(fault.EINVALID, "invalid")
	// ErrNodeHasPeers reports an attempt to delete a node that still has
	// peers without force, or to move its pools away from their addresses.
	ErrNodeHasPeers = fault.New(fault.ECONFLICT, "node has peers")
	// ErrNodeFull reports a node that already has max_peers peers.
	ErrNodeFull = fault.New(fault.ECONFLICT, "node is full")
	// ErrWrongMasterKey reports, from Open, a master key other than the
	// one the database's secrets were sealed with.
	ErrWrongMasterKey = fault.New(fault.EINTERNAL, "the master key does not match the one this database's secrets were sealed with")
)

// Per-entity not-found errors.
var (
	ErrNodeNotFound     = fmt.Errorf("node %w", ErrNotFound)
	ErrPeerNotFound     = fmt.Errorf("peer %w", ErrNotFound)
	ErrUserNotFound     = fmt.Errorf("user %w", ErrNotFound)
	ErrSessionNotFound  = fmt.Errorf("session %w", ErrNotFound)
	ErrAPITokenNotFound = fmt.Errorf("api token %w", ErrNotFound)
)

// PostgreSQL's SQLSTATE codes the store tells apart.
const (
	pgUniqueViolation     = "23505"
	pgForeignKeyViolation = "23503"
)

// isUnique reports whether err is a UNIQUE or PRIMARY KEY violation.
func isUnique(err error) bool {
	var se sqlite3.Error
	var pe *pgconn.PgError
	return errors.As(err, &se) &&
		(se.ExtendedCode == sqlite3.ErrConstraintUnique || se.ExtendedCode == sqlite3.ErrConstraintPrimaryKey) ||
		errors.As(err, &pe) && pe.Code == pgUniqueViolation
}

// isForeignKey reports whether err is a FOREIGN KEY violation. SQLite
// reports a RESTRICT action as a trigger constraint.
func isForeignKey(err error) bool {
	var se sqlite3.Error
	var pe *pgconn.PgError
	return errors.As(err, &se) &&
		(se.ExtendedCode == sqlite3.ErrConstraintForeignKey || se.ExtendedCode == sqlite3.ErrConstraintTrigger) ||
		errors.As(err, &pe) && pe.Code == pgForeignKeyViolation
}

func invalidf(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrInvalid}, args...)...)
}
