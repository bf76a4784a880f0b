package store

import (
	"database/sql"
	"fmt"
	"net/netip"
	"strings"
	"time"
)

// Conversions between model values and column values. Times are unix
// seconds in UTC, with NULL for the zero time.

func unixTime(sec int64) time.Time { return time.Unix(sec, 0).UTC() }

func nullTime(t time.Time) sql.NullInt64 {
	if t.IsZero() {
		return sql.NullInt64{}
	}
	return sql.NullInt64{Int64: t.Unix(), Valid: true}
}

func fromNullTime(n sql.NullInt64) time.Time {
	if !n.Valid {
		return time.Time{}
	}
	return unixTime(n.Int64)
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// nullPrefix is the column value of an optional prefix: NULL when zero.
func nullPrefix(p netip.Prefix) sql.NullString {
	if !p.IsValid() {
		return sql.NullString{}
	}
	return sql.NullString{String: p.String(), Valid: true}
}

func parseNullPrefix(n sql.NullString) (netip.Prefix, error) {
	if !n.Valid || n.String == "" {
		return netip.Prefix{}, nil
	}
	return netip.ParsePrefix(n.String)
}

func nullAddr(a netip.Addr) sql.NullString {
	if !a.IsValid() {
		return sql.NullString{}
	}
	return sql.NullString{String: a.String(), Valid: true}
}

func parseNullAddr(n sql.NullString) (netip.Addr, error) {
	if !n.Valid || n.String == "" {
		return netip.Addr{}, nil
	}
	return netip.ParseAddr(n.String)
}

// prefixList is how a list of prefixes is stored: "10.0.0.2/32, fd00::2/128".
func prefixList(ps []netip.Prefix) string {
	ss := make([]string, len(ps))
	for i, p := range ps {
		ss[i] = p.String()
	}
	return strings.Join(ss, ", ")
}

func parsePrefixList(s string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for f := range strings.SplitSeq(s, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		p, err := netip.ParsePrefix(f)
		if err != nil {
			return nil, fmt.Errorf("prefix list %q: %w", s, err)
		}
		out = append(out, p)
	}
	return out, nil
}

// scanner is a *sql.Row or *sql.Rows.
type scanner interface {
	Scan(dest ...any) error
}
