package client

import (
	"context"
	"fmt"
	"iter"
	"net/http"
	"net/url"
	"strconv"

	"github.com/wgfleet/wgfleet/controller/fleet"
)

// peerPath is the path of peer id, with more after it ("/move").
func peerPath(id int64, more string) string { return fmt.Sprintf("/api/peers/%d%s", id, more) }

// PeerQuery searches the fleet's peers (GET /api/peers with parameters);
// its zero value matches every peer. The filters AND together.
type PeerQuery struct {
	Text   string   // substring of the name, an address or the public key; "" any
	NodeID int64    // 0: any node
	Status string   // active, restricted, expired, over_limit; "" any
	Labels []string // key=value labels the peer's node carries
	// PageSize is the peers asked per request, 1 to 1000; 0 lets the
	// controller choose.
	PageSize int
}

func (q PeerQuery) values(cursor string) url.Values {
	v := url.Values{"q": {q.Text}} // any parameter asks for the paged answer
	if q.NodeID > 0 {
		v.Set("node_id", strconv.FormatInt(q.NodeID, 10))
	}
	if q.Status != "" {
		v.Set("status", q.Status)
	}
	if len(q.Labels) > 0 {
		v["label"] = q.Labels
	}
	if q.PageSize > 0 {
		v.Set("limit", strconv.Itoa(q.PageSize))
	}
	if cursor != "" {
		v.Set("cursor", cursor)
	}
	return v
}

// PeerPage is one page of a search; NextCursor is "" on the last.
type PeerPage struct {
	Peers      []fleet.PeerView
	NextCursor string
}

// SearchPeers answers one page of q, from cursor ("" for the first).
func (c *Client) SearchPeers(ctx context.Context, q PeerQuery, cursor string) (PeerPage, error) {
	var page struct {
		Peers      []fleet.PeerView `json:"peers"`
		NextCursor *string          `json:"next_cursor"`
	}
	if _, err := c.call(ctx, http.MethodGet, "/api/peers", q.values(cursor), nil, &page); err != nil {
		return PeerPage{}, err
	}
	p := PeerPage{Peers: page.Peers}
	if page.NextCursor != nil {
		p.NextCursor = *page.NextCursor
	}
	return p, nil
}

// Peers yields every peer q matches, in id order, following the cursors
// page by page; it stops at the first error, which it yields.
func (c *Client) Peers(ctx context.Context, q PeerQuery) iter.Seq2[fleet.PeerView, error] {
	return func(yield func(fleet.PeerView, error) bool) {
		cursor := ""
		for {
			page, err := c.SearchPeers(ctx, q, cursor)
			if err != nil {
				yield(fleet.PeerView{}, err)
				return
			}
			for _, p := range page.Peers {
				if !yield(p, nil) {
					return
				}
			}
			if page.NextCursor == "" {
				return
			}
			cursor = page.NextCursor
		}
	}
}

// Peer is one peer: GET /api/peers/{id}.
func (c *Client) Peer(ctx context.Context, id int64) (fleet.PeerView, error) {
	var p fleet.PeerView
	_, err := c.call(ctx, http.MethodGet, peerPath(id, ""), nil, nil, &p)
	return p, err
}

// CreatePeer creates a peer on the node in.NodeID names (an id or
// "auto"): POST /api/peers.
func (c *Client) CreatePeer(ctx context.Context, in fleet.PeerInput) (fleet.PeerView, string, error) {
	var p fleet.PeerView
	msg, err := c.call(ctx, http.MethodPost, "/api/peers", nil, in, &p)
	return p, msg, err
}

// UpdatePeer changes the fields of in that are given: PUT
// /api/peers/{id}.
func (c *Client) UpdatePeer(ctx context.Context, id int64, in fleet.PeerInput) (fleet.PeerView, string, error) {
	var p fleet.PeerView
	msg, err := c.call(ctx, http.MethodPut, peerPath(id, ""), nil, in, &p)
	return p, msg, err
}

// DeletePeer deletes a peer and frees its addresses: DELETE
// /api/peers/{id}.
func (c *Client) DeletePeer(ctx context.Context, id int64) (string, error) {
	return c.call(ctx, http.MethodDelete, peerPath(id, ""), nil, nil, nil)
}

// RestrictPeer takes a peer off its node, keeping it and its address:
// POST /api/peers/{id}/restrict.
func (c *Client) RestrictPeer(ctx context.Context, id int64) (fleet.PeerView, string, error) {
	var p fleet.PeerView
	msg, err := c.call(ctx, http.MethodPost, peerPath(id, "/restrict"), nil, nil, &p)
	return p, msg, err
}

// AllowPeer puts a restricted peer back on its node: POST
// /api/peers/{id}/allow.
func (c *Client) AllowPeer(ctx context.Context, id int64) (fleet.PeerView, string, error) {
	var p fleet.PeerView
	msg, err := c.call(ctx, http.MethodPost, peerPath(id, "/allow"), nil, nil, &p)
	return p, msg, err
}

// MoveTarget is where MovePeer sends a peer: a node's id, or, with
// Auto, the node automatic placement picks in the peer's node's region
// (any region with AnyRegion).
type MoveTarget struct {
	NodeID    int64
	Auto      bool
	AnyRegion bool
}

// MovePeer moves a peer to another node: POST /api/peers/{id}/move. Its
// client config changes.
func (c *Client) MovePeer(ctx context.Context, id int64, to MoveTarget) (fleet.MoveResult, string, error) {
	body := map[string]any{"node_id": to.NodeID}
	if to.Auto {
		body["node_id"] = "auto"
	}
	if to.AnyRegion {
		body["any_region"] = true
	}
	var res fleet.MoveResult
	msg, err := c.call(ctx, http.MethodPost, peerPath(id, "/move"), nil, body, &res)
	return res, msg, err
}
