package api

import (
	"encoding/base64"
	"net/http"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/wgfleet/wgfleet/controller/fleet"
	"github.com/wgfleet/wgfleet/controller/labels"
	"github.com/wgfleet/wgfleet/controller/store"
)

const (
	defaultPeerPage = 100  // peers per page when limit is not given
	maxPeerPage     = 1000 // the most a limit may ask
	maxPeerSearch   = 256  // the longest q, in bytes
	cursorPrefix    = "p"  // what a cursor's text starts with, before the id
)

// peerPage is the paged answer of GET /api/peers. NextCursor is null on
// the last page.
type peerPage struct {
	Peers      []fleet.PeerView `json:"peers"`
	NextCursor *string          `json:"next_cursor"`
}

// wantsPeerPage reports whether r asks GET /api/peers for the paged,
// searched shape: any of its parameters, even empty, does. Without them
// the answer stays the plain list of every peer it always was.
func wantsPeerPage(r *http.Request) bool {
	q := r.URL.Query()
	for _, name := range []string{"q", "node_id", "status", "label", "limit", "cursor"} {
		if q.Has(name) {
			return true
		}
	}
	return false
}

// encodeCursor makes the opaque cursor that continues after peer id.
func encodeCursor(id int64) string {
	return base64.RawURLEncoding.EncodeToString([]byte(cursorPrefix + strconv.FormatInt(id, 10)))
}

// decodeCursor reverses encodeCursor; "" is the first page (0).
func decodeCursor(raw string) (int64, error) {
	if raw == "" {
		return 0, nil
	}
	b, err := base64.RawURLEncoding.DecodeString(raw)
	if err == nil {
		if digits, ok := strings.CutPrefix(string(b), cursorPrefix); ok {
			if id, err := strconv.ParseInt(digits, 10, 64); err == nil && id > 0 {
				return id, nil
			}
		}
	}
	return 0, badRequestf("query parameter cursor: %q is not a cursor this API gave", shorten(raw))
}

// peerQuery reads the search, filters and page of GET /api/peers.
func peerQuery(r *http.Request) (store.PeerQuery, error) {
	v := r.URL.Query()
	q := store.PeerQuery{Text: v.Get("q"), Limit: defaultPeerPage}
	if len(q.Text) > maxPeerSearch || !utf8.ValidString(q.Text) {
		return q, badRequestf("query parameter q: at most %d bytes of UTF-8", maxPeerSearch)
	}
	if raw := v.Get("node_id"); raw != "" {
		id, err := strconv.ParseInt(raw, 10, 64)
		if err != nil || id <= 0 {
			return q, badRequestf("query parameter node_id must be a positive integer, not %q", shorten(raw))
		}
		q.NodeID = id
	}
	if raw := v.Get("status"); raw != "" {
		q.Status = store.PeerStatus(raw)
		if !q.Status.Valid() {
			return q, badRequestf("query parameter status must be active, restricted, expired or over_limit, not %q", shorten(raw))
		}
	}
	sel, err := labels.ParseSelector(v["label"])
	if err != nil {
		return q, badRequestf("query parameter label: %v", err)
	}
	q.Labels = sel
	if raw := v.Get("limit"); raw != "" {
		n, err := strconv.Atoi(raw)
		if err != nil || n < 1 || n > maxPeerPage {
			return q, badRequestf("query parameter limit must be an integer from 1 to %d, not %q", maxPeerPage, shorten(raw))
		}
		q.Limit = n
	}
	if q.AfterID, err = decodeCursor(v.Get("cursor")); err != nil {
		return q, err
	}
	return q, nil
}

// searchPeers: GET /api/peers with any of q, node_id, status, label,
// limit, cursor; answers one peerPage.
func (s *server) searchPeers(r *http.Request) (result, error) {
	q, err := peerQuery(r)
	if err != nil {
		return result{}, err
	}
	peers, more, err := s.fleet.SearchPeers(r.Context(), q)
	if err != nil {
		return result{}, err
	}
	page := peerPage{Peers: orEmpty(peers)}
	if more && len(peers) > 0 {
		c := encodeCursor(peers[len(peers)-1].ID)
		page.NextCursor = &c
	}
	return success("", page), nil
}
