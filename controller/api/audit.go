package api

import (
	"encoding/json"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/wgfleet/wgfleet/controller/store"
)

// Paging of GET /api/audit.
const (
	defaultAuditLimit = 100
	maxAuditLimit     = 500 // below the store's own maximum, so one more row can be asked for
)

// auditTargetType is the form of a target type: "peer", "enrollment_token".
var auditTargetType = regexp.MustCompile(`^[a-z][a-z_]{0,39}$`)

// auditEntryView is one audit entry as the API shows it. Details is the
// entry's JSON object as recorded: it never holds a secret (the store
// refuses secret-looking keys when the entry is written).
type auditEntryView struct {
	ID         int64           `json:"id"`
	At         time.Time       `json:"at"`
	Actor      string          `json:"actor"`
	Action     string          `json:"action"`
	TargetType string          `json:"target_type"`
	TargetID   string          `json:"target_id"`
	Details    json.RawMessage `json:"details"`
}

// auditPage is the answer of GET /api/audit: entries newest first, and
// the before= of the next (older) page, null on the last page.
type auditPage struct {
	Entries    []auditEntryView `json:"entries"`
	NextBefore *int64           `json:"next_before"`
}

// listAudit: GET /api/audit[?actor=&target=&since=&limit=&before=].
func (s *server) listAudit(r *http.Request) (result, error) {
	f, err := parseAuditQuery(r)
	if err != nil {
		return result{}, err
	}
	limit := f.Limit
	f.Limit++ // one more tells whether an older page exists
	entries, err := s.fleet.ListAudit(r.Context(), f)
	if err != nil {
		return result{}, err
	}
	page := auditPage{Entries: make([]auditEntryView, 0, min(len(entries), limit))}
	if len(entries) > limit {
		entries = entries[:limit]
		next := entries[limit-1].ID
		page.NextBefore = &next
	}
	for _, e := range entries {
		page.Entries = append(page.Entries, auditEntryView{
			ID: e.ID, At: e.At.UTC(), Actor: e.Actor, Action: e.Action,
			TargetType: e.TargetType, TargetID: e.TargetID, Details: e.Details,
		})
	}
	return success("", page), nil
}

// parseAuditQuery reads the query of GET /api/audit into a filter with
// Limit set. Every parameter is optional and may be given once; an
// unknown one is refused, so that a typo does not silently list all.
func parseAuditQuery(r *http.Request) (store.AuditFilter, error) {
	f := store.AuditFilter{Limit: defaultAuditLimit}
	for name, vals := range r.URL.Query() {
		if len(vals) > 1 {
			return f, badFieldf(name, "query parameter %s may be given once", shorten(name))
		}
		v := vals[0]
		switch name {
		case "actor":
			if len(v) > 200 {
				return f, badFieldf(name, "query parameter actor is longer than 200 bytes")
			}
			f.Actor = v
		case "target":
			if v == "" {
				continue
			}
			typ, id, hasID := strings.Cut(v, ":")
			if !auditTargetType.MatchString(typ) || (hasID && (id == "" || len(id) > 100)) {
				return f, badFieldf(name, `query parameter target must be a type or type:id such as "peer" or "peer:12", not %q`, shorten(v))
			}
			f.TargetType, f.TargetID = typ, id
		case "since":
			if v == "" {
				continue
			}
			t, err := time.Parse(time.RFC3339, v)
			if err != nil {
				return f, badFieldf(name, `query parameter since must be an RFC 3339 time such as "2026-11-29T22:00:00Z", not %q`, shorten(v))
			}
			f.Since = t
		case "limit":
			n, err := strconv.Atoi(v)
			if err != nil || n < 1 || n > maxAuditLimit {
				return f, badFieldf(name, "query parameter limit must be a whole number from 1 to %d, not %q", maxAuditLimit, shorten(v))
			}
			f.Limit = n
		case "before":
			id, err := strconv.ParseInt(v, 10, 64)
			if err != nil || id <= 0 {
				return f, badFieldf(name, "query parameter before must be an entry id (a positive integer), not %q", shorten(v))
			}
			f.BeforeID = id
		default:
			return f, badRequestf("unknown query parameter %q: the audit log takes actor, target, since, limit and before", shorten(name))
		}
	}
	return f, nil
}
