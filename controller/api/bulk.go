package api

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"

	"github.com/wgfleet/wgfleet/controller/fleet"
)

// The actions POST /api/peers/bulk-action takes.
const (
	bulkRestrict = "restrict"
	bulkAllow    = "allow"
	bulkDelete   = "delete"
	bulkMove     = "move"
)

// bulkActionRequest is the body of POST /api/peers/bulk-action.
type bulkActionRequest struct {
	IDs    []int64 `json:"ids"`
	Action string  `json:"action"`
	// TargetNodeID is where "move" takes the peers: a node id or "auto".
	TargetNodeID json.RawMessage `json:"target_node_id"`
	// AnyRegion lets "move" to "auto" leave each peer's region.
	AnyRegion *bool `json:"any_region"`

	target int64 // TargetNodeID read: a node id, 0 for "auto"
}

// bulkItem is the answer about one id of a bulk action: what the single
// peer's route would have answered (status, and the code and message of a
// failure), and the peer as it now is when it still exists.
type bulkItem struct {
	ID      int64           `json:"id"`
	OK      bool            `json:"ok"`
	Status  int             `json:"status"`
	Code    string          `json:"code"`
	Message string          `json:"message"`
	Peer    *fleet.PeerView `json:"peer,omitempty"`
}

// bulkActionResult is the answer of POST /api/peers/bulk-action: one item
// per id, in the order given.
type bulkActionResult struct {
	Action    string     `json:"action"`
	Succeeded int        `json:"succeeded"`
	Failed    int        `json:"failed"`
	Results   []bulkItem `json:"results"`
}

// decodeBulkAction decodes and checks a bulk action as a whole: a request
// that fails here does nothing.
func decodeBulkAction(data []byte) (bulkActionRequest, error) {
	req, err := decodeJSON[bulkActionRequest](data)
	if err != nil {
		return req, err
	}
	req.target, err = req.check()
	return req, err
}

// check checks a decoded bulk action and reads its target.
func (req bulkActionRequest) check() (target int64, err error) {
	switch {
	case len(req.IDs) == 0:
		return 0, badFieldf("ids", "ids: at least one peer id is required")
	case len(req.IDs) > fleet.MaxBulk:
		return 0, badFieldf("ids", "ids: at most %d peers in one request, not %d", fleet.MaxBulk, len(req.IDs))
	}
	seen := make(map[int64]bool, len(req.IDs))
	for _, id := range req.IDs {
		if seen[id] {
			return 0, badFieldf("ids", "ids: peer %d is given twice", id)
		}
		seen[id] = true
	}
	given := len(req.TargetNodeID) > 0 && string(req.TargetNodeID) != "null"
	switch req.Action {
	case bulkMove:
		if target, err = parseMoveTarget("target_node_id", req.TargetNodeID); err != nil {
			return 0, err
		}
		if req.AnyRegion != nil && *req.AnyRegion && target != 0 {
			return 0, badFieldf("any_region", "any_region: applies only with target_node_id \"auto\"")
		}
	case bulkRestrict, bulkAllow, bulkDelete:
		if given {
			return 0, badFieldf("target_node_id", "target_node_id: applies only to the action move")
		}
		if req.AnyRegion != nil {
			return 0, badFieldf("any_region", "any_region: applies only to the action move")
		}
	case "":
		return 0, badFieldf("action", "action is required: restrict, allow, delete or move")
	default:
		return 0, badFieldf("action", "action must be restrict, allow, delete or move, not %q", shorten(req.Action))
	}
	return target, nil
}

// bulkAction: POST /api/peers/bulk-action runs one action on each peer of
// ids, one after the other, through the same fleet operations as the
// single peer's routes (each audited as they are); a peer that fails does
// not stop the others. It answers 200 with one item per id; a request
// refused as a whole (400) does nothing.
func (s *server) bulkAction(r *http.Request) (result, error) {
	req, err := decodeBody(r, decodeBulkAction)
	if err != nil {
		return result{}, err
	}
	who := actor(r)
	anyRegion := req.AnyRegion != nil && *req.AnyRegion
	res := bulkActionResult{Action: req.Action, Results: make([]bulkItem, 0, len(req.IDs))}
	for _, id := range req.IDs {
		item := s.bulkOne(r, who, req.Action, id, req.target, anyRegion)
		if item.OK {
			res.Succeeded++
		} else {
			res.Failed++
		}
		res.Results = append(res.Results, item)
	}
	return success(bulkMessage(res), res), nil
}

// bulkOne runs the action on peer id and says how it went.
func (s *server) bulkOne(r *http.Request, who fleet.Actor, action string, id, target int64, anyRegion bool) bulkItem {
	if id <= 0 {
		return s.bulkFailure(r, id, badRequestf("peer id must be a positive integer, not %d", id))
	}
	ctx := r.Context()
	var (
		peer fleet.PeerView
		msg  string
		err  error
	)
	switch action {
	case bulkRestrict:
		peer, err = s.fleet.SetPeerEnabled(ctx, who, id, false)
		msg = "peer restricted"
	case bulkAllow:
		peer, err = s.fleet.SetPeerEnabled(ctx, who, id, true)
		msg = "peer allowed"
	case bulkDelete:
		err = s.fleet.DeletePeer(ctx, who, id)
		msg = "peer deleted"
	case bulkMove:
		var res fleet.MoveResult
		res, err = s.move(ctx, who, id, target, anyRegion)
		peer, msg = res.Peer, res.Message
	}
	if err != nil {
		return s.bulkFailure(r, id, err)
	}
	item := bulkItem{ID: id, OK: true, Status: http.StatusOK, Code: "ok", Message: msg}
	if action != bulkDelete {
		item.Peer = &peer
	}
	return item
}

// bulkFailure is the item of a peer whose action failed: the status,
// code and message its single route would answer (see statusOf).
func (s *server) bulkFailure(r *http.Request, id int64, err error) bulkItem {
	p := statusOf(err)
	if p.internal {
		s.log.Error("bulk action failed for a peer", "peer_id", id, "path", logPath(r.URL.Path), "status", p.status, "err", err)
	}
	return bulkItem{ID: id, Status: p.status, Code: string(codeOf(err)), Message: p.message}
}

// bulkMessage sums a bulk action up in one sentence.
func bulkMessage(res bulkActionResult) string {
	done := map[string]string{bulkRestrict: "restricted", bulkAllow: "allowed", bulkDelete: "deleted", bulkMove: "moved"}[res.Action]
	total := res.Succeeded + res.Failed
	if res.Failed == 0 {
		return fmt.Sprintf("%s %s", peersCount(total), done)
	}
	return fmt.Sprintf("%d of %s %s; %d failed", res.Succeeded, peersCount(total), done, res.Failed)
}

// peersCount is "1 peer" or "N peers".
func peersCount(n int) string {
	if n == 1 {
		return "1 peer"
	}
	return fmt.Sprintf("%d peers", n)
}

// decodeBulkCreate decodes the body of POST /api/peers/bulk strictly, its
// placement object included.
func decodeBulkCreate(data []byte) (fleet.BulkPeerInput, error) {
	in, err := decodeJSON[fleet.BulkPeerInput](data)
	if err != nil {
		return in, err
	}
	return in, checkNestedKeys(data, "placement", jsonFields(&fleet.Placement{}))
}

// createPeers: POST /api/peers/bulk makes count peers named name_prefix
// and a number, all or none (see fleet.Service.CreatePeers); 201 with
// their ids.
func (s *server) createPeers(r *http.Request) (result, error) {
	in, err := decodeBody(r, decodeBulkCreate)
	if err != nil {
		return result{}, err
	}
	res, err := s.fleet.CreatePeers(r.Context(), actor(r), in)
	if err != nil {
		return result{}, err
	}
	return created(s.bulkCreatedMessage(r.Context(), res), res), nil
}

// bulkCreatedMessage says how many peers were made and where.
func (s *server) bulkCreatedMessage(ctx context.Context, res fleet.BulkCreateResult) string {
	ids := make([]int64, 0, len(res.Nodes))
	for id := range res.Nodes {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	if len(ids) != 1 {
		return fmt.Sprintf("%s created on %d nodes; they are applied as each node's agent answers", peersCount(len(res.IDs)), len(ids))
	}
	where := fmt.Sprintf("node %d", ids[0])
	if n, err := s.fleet.GetNode(ctx, ids[0]); err == nil {
		where = "node " + n.Name
	}
	return fmt.Sprintf("%s created on %s; they are applied as soon as its agent answers", peersCount(len(res.IDs)), where)
}
