package store

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"
)

// AuditEntry is one line of the audit log: who did what to which object.
type AuditEntry struct {
	ID         int64
	At         time.Time // set by AppendAudit
	Actor      string    // e.g. "user:alice", "token:ci", "system"
	Action     string    // e.g. "peer.create"
	TargetType string    // e.g. "peer"; "" when there is no target
	TargetID   string
	// Details is a JSON object with anything else worth keeping; nil means
	// {}. It must never hold secrets: AppendAudit refuses objects with keys
	// such as "secret", "private_key" or "password" at any depth.
	Details json.RawMessage
}

// AuditFilter selects audit entries for ListAudit. Zero fields select
// everything; the fields that are set AND together.
type AuditFilter struct {
	Actor      string // exactly this actor ("user:alice", "system")
	TargetType string
	TargetID   string    // only with TargetType
	Since      time.Time // entries at or after this time (to the second)
	BeforeID   int64     // entries with a smaller id (older), for paging
	Limit      int       // 0 means 100; at most 1000
}

// secretKeys are JSON keys that may not appear in audit details.
func isSecretKey(k string) bool {
	switch strings.ToLower(k) {
	case "secret", "private_key", "privatekey", "preshared_key", "presharedkey", "psk",
		"password", "password_hash", "token", "api_token", "csrf_token", "master_key":
		return true
	}
	return false
}

// checkAuditDetails requires a JSON object without secret-looking keys.
//
// Every write of the fleet appends an entry, peer creations too, inside
// the store's one writer, so the usual case is answered without decoding:
// in valid JSON with no escape (no backslash) every string, key or value,
// is the text between two quotes as it stands; if none is a secret word
// (isSecretKey), no key is one. Anything else is decoded and each key
// checked.
func checkAuditDetails(d json.RawMessage) error {
	if t := bytes.TrimLeft(d, " \t\r\n"); len(t) > 0 && t[0] == '{' && bytes.IndexByte(d, '\\') < 0 && json.Valid(d) && !quotesSecretWord(d) {
		return nil
	}
	var obj map[string]any
	dec := json.NewDecoder(bytes.NewReader(d))
	dec.UseNumber()
	if err := dec.Decode(&obj); err != nil || obj == nil {
		return invalidf("audit details are not a JSON object")
	}
	if k, ok := findSecretKey(obj); ok {
		return invalidf("audit details hold key %q, which may carry a secret", k)
	}
	return nil
}

// quotesSecretWord reports whether a string of d, JSON without escapes,
// is a secret word.
func quotesSecretWord(d []byte) bool {
	for {
		i := bytes.IndexByte(d, '"')
		if i < 0 {
			return false
		}
		j := bytes.IndexByte(d[i+1:], '"')
		if j < 0 {
			return false
		}
		if isSecretKey(string(d[i+1 : i+1+j])) {
			return true
		}
		d = d[i+1+j+1:]
	}
}

func findSecretKey(v any) (string, bool) {
	switch v := v.(type) {
	case map[string]any:
		for k, x := range v {
			if isSecretKey(k) {
				return k, true
			}
			if k, ok := findSecretKey(x); ok {
				return k, true
			}
		}
	case []any:
		for _, x := range v {
			if k, ok := findSecretKey(x); ok {
				return k, true
			}
		}
	}
	return "", false
}

// AppendAudit appends e to the audit log with At set to now and returns it
// with its ID. Actor and Action are required.
func (tx *Tx) AppendAudit(ctx context.Context, e AuditEntry) (AuditEntry, error) {
	if e.Actor == "" || e.Action == "" {
		return AuditEntry{}, fmt.Errorf("appending audit entry: %w", invalidf("actor and action must be set"))
	}
	if e.Details == nil {
		e.Details = json.RawMessage("{}")
	}
	if err := checkAuditDetails(e.Details); err != nil {
		return AuditEntry{}, fmt.Errorf("appending audit entry %s: %w", e.Action, err)
	}
	e.At = tx.now
	err := tx.tx.QueryRowContext(ctx, `INSERT INTO audit_log (at, actor, action, target_type, target_id, details)
		VALUES (?, ?, ?, ?, ?, ?) RETURNING id`,
		e.At.Unix(), e.Actor, e.Action, e.TargetType, e.TargetID, string(e.Details)).Scan(&e.ID)
	if err != nil {
		return AuditEntry{}, fmt.Errorf("appending audit entry %s: %w", e.Action, err)
	}
	return e, nil
}

// ListAudit returns audit entries matching f, newest first.
func (tx *Tx) ListAudit(ctx context.Context, f AuditFilter) ([]AuditEntry, error) {
	limit := f.Limit
	switch {
	case limit <= 0:
		limit = 100
	case limit > 1000:
		limit = 1000
	}
	q := "SELECT id, at, actor, action, target_type, target_id, details FROM audit_log WHERE 1 = 1"
	var args []any
	if f.Actor != "" {
		q += " AND actor = ?"
		args = append(args, f.Actor)
	}
	if f.TargetType != "" {
		q += " AND target_type = ?"
		args = append(args, f.TargetType)
		if f.TargetID != "" {
			q += " AND target_id = ?"
			args = append(args, f.TargetID)
		}
	}
	if !f.Since.IsZero() {
		// at is whole seconds: an entry in the second of Since is kept.
		q += " AND at >= ?"
		args = append(args, f.Since.Unix())
	}
	if f.BeforeID > 0 {
		q += " AND id < ?"
		args = append(args, f.BeforeID)
	}
	q += " ORDER BY id DESC LIMIT ?"
	args = append(args, limit)

	rows, err := tx.tx.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("listing audit log: %w", err)
	}
	defer rows.Close()
	out := []AuditEntry{}
	for rows.Next() {
		var (
			e       AuditEntry
			at      int64
			details string
		)
		if err := rows.Scan(&e.ID, &at, &e.Actor, &e.Action, &e.TargetType, &e.TargetID, &details); err != nil {
			return nil, fmt.Errorf("listing audit log: %w", err)
		}
		e.At = unixTime(at)
		e.Details = json.RawMessage(details)
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("listing audit log: %w", err)
	}
	return out, nil
}
