package api

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"

	"github.com/wgfleet/wgfleet/controller/fleet"
	"github.com/wgfleet/wgfleet/controller/store"
)

// listPeers: GET /api/peers. With no search parameter it lists every
// peer by node and id, as it always did; with any, it is searchPeers.
func (s *server) listPeers(r *http.Request) (result, error) {
	if wantsPeerPage(r) {
		return s.searchPeers(r)
	}
	peers, err := s.fleet.ListAllPeers(r.Context())
	if err != nil {
		return result{}, err
	}
	return success("", orEmpty(peers)), nil
}

func (s *server) listNodePeers(r *http.Request) (result, error) {
	id, err := pathID(r, "node")
	if err != nil {
		return result{}, err
	}
	peers, err := s.fleet.ListPeers(r.Context(), id)
	if err != nil {
		return result{}, err
	}
	return success("", orEmpty(peers)), nil
}

func (s *server) getPeer(r *http.Request) (result, error) {
	id, err := pathID(r, "peer")
	if err != nil {
		return result{}, err
	}
	peer, err := s.fleet.GetPeer(r.Context(), id)
	if err != nil {
		return result{}, err
	}
	return success("", peer), nil
}

// createPeer: POST /api/peers; the body's node_id is a node id or "auto".
func (s *server) createPeer(r *http.Request) (result, error) {
	return s.doCreatePeer(r, 0)
}

// createNodePeer: POST /api/nodes/{id}/peers. A node_id in the body, if
// any, must name the path's node (the fleet checks).
func (s *server) createNodePeer(r *http.Request) (result, error) {
	id, err := pathID(r, "node")
	if err != nil {
		return result{}, err
	}
	return s.doCreatePeer(r, id)
}

// doCreatePeer creates the peer of r's body on the node nodeID, 0 for
// the body's node_id.
func (s *server) doCreatePeer(r *http.Request, nodeID int64) (result, error) {
	in, err := decodeBody(r, decodePeerInput)
	if err != nil {
		return result{}, err
	}
	peer, err := s.fleet.CreatePeer(r.Context(), actor(r), nodeID, in)
	if err != nil {
		return result{}, err
	}
	return created(s.peerCreatedMessage(r.Context(), peer), peer), nil
}

// peerCreatedMessage says where a new peer stands: applied, on its way to
// a node that answers, or waiting for its node's agent.
func (s *server) peerCreatedMessage(ctx context.Context, peer fleet.PeerView) string {
	if peer.SyncState == string(store.SyncApplied) {
		return "peer created"
	}
	name, enabled, status, ok := peer.CreatedOn() // as the creation read it
	if !ok {
		node, err := s.fleet.GetNode(ctx, peer.NodeID)
		if err != nil {
			// The peer exists; only its node's name is missing from the message.
			return "peer created; it is applied to the node as soon as the agent answers"
		}
		name, enabled, status = node.Name, node.Enabled, node.Status
	}
	switch {
	case !enabled:
		return fmt.Sprintf("peer created; node %s is disabled: the peer is applied once the node is enabled", name)
	case status == string(store.NodeOnline):
		return fmt.Sprintf("peer created; it is being applied to node %s", name)
	default:
		return fmt.Sprintf("peer created; it is applied to node %s as soon as the agent answers", name)
	}
}

func (s *server) updatePeer(r *http.Request) (result, error) {
	id, err := pathID(r, "peer")
	if err != nil {
		return result{}, err
	}
	in, err := decodeBody(r, decodePeerInput)
	if err != nil {
		return result{}, err
	}
	peer, err := s.fleet.UpdatePeer(r.Context(), actor(r), id, in)
	if err != nil {
		return result{}, err
	}
	return success("peer updated", peer), nil
}

func (s *server) deletePeer(r *http.Request) (result, error) {
	id, err := pathID(r, "peer")
	if err != nil {
		return result{}, err
	}
	if err := s.fleet.DeletePeer(r.Context(), actor(r), id); err != nil {
		return result{}, err
	}
	return success("peer deleted", nil), nil
}

// restrictPeer: POST /api/peers/{id}/restrict takes the peer off its node
// but keeps it (and its address).
func (s *server) restrictPeer(r *http.Request) (result, error) {
	return s.setPeerEnabled(r, false, "peer restricted")
}

// allowPeer: POST /api/peers/{id}/allow puts a restricted peer back.
func (s *server) allowPeer(r *http.Request) (result, error) {
	return s.setPeerEnabled(r, true, "peer allowed")
}

func (s *server) setPeerEnabled(r *http.Request, enabled bool, msg string) (result, error) {
	id, err := pathID(r, "peer")
	if err != nil {
		return result{}, err
	}
	peer, err := s.fleet.SetPeerEnabled(r.Context(), actor(r), id, enabled)
	if err != nil {
		return result{}, err
	}
	return success(msg, peer), nil
}

// resetPeerUsage: POST /api/peers/{id}/reset-usage starts counting the
// peer's usage again and brings back a peer its data limit restricted.
func (s *server) resetPeerUsage(r *http.Request) (result, error) {
	id, err := pathID(r, "peer")
	if err != nil {
		return result{}, err
	}
	peer, err := s.fleet.ResetUsage(r.Context(), actor(r), id)
	if err != nil {
		return result{}, err
	}
	return success("peer usage reset", peer), nil
}

// peerConfig: GET /api/peers/{id}/config, the client's wg-quick file as
// an attachment. It is the one answer that carries a private key, so it is
// never cached.
func (s *server) peerConfig(r *http.Request) (file, error) {
	id, err := pathID(r, "peer")
	if err != nil {
		return file{}, err
	}
	name, conf, err := s.fleet.PeerConfig(r.Context(), actor(r), id)
	if err != nil {
		return file{}, err
	}
	return file{contentType: "text/plain; charset=utf-8", name: name, body: conf}, nil
}

// peerQR: GET /api/peers/{id}/qr, the client config as a QR code (PNG).
func (s *server) peerQR(r *http.Request) (file, error) {
	id, err := pathID(r, "peer")
	if err != nil {
		return file{}, err
	}
	png, err := s.fleet.PeerQR(r.Context(), actor(r), id)
	if err != nil {
		return file{}, err
	}
	return file{contentType: "image/png", body: png}, nil
}

type moveRequest struct {
	NodeID    json.RawMessage `json:"node_id"`
	AnyRegion *bool           `json:"any_region"`
}

// movePeer: POST /api/peers/{id}/move {"node_id"} moves a peer to another
// node; its client config changes (new endpoint and address). node_id
// "auto" lets placement choose among the other nodes of the peer's
// node's region, or of any region with "any_region": true.
func (s *server) movePeer(r *http.Request) (result, error) {
	id, err := pathID(r, "peer")
	if err != nil {
		return result{}, err
	}
	req, err := decodeBody(r, decodeJSON[moveRequest])
	if err != nil {
		return result{}, err
	}
	target, err := parseMoveTarget("node_id", req.NodeID)
	if err != nil {
		return result{}, err
	}
	res, err := s.move(r.Context(), actor(r), id, target, req.AnyRegion != nil && *req.AnyRegion)
	if err != nil {
		return result{}, err
	}
	return success(res.Message, res), nil
}

// parseMoveTarget reads where a move goes: a node id, or 0 for "auto".
// field names it in the message when it is neither.
func parseMoveTarget(field string, raw json.RawMessage) (int64, error) {
	if strings.TrimSpace(string(raw)) == `"auto"` {
		return 0, nil
	}
	var nodeID int64
	if json.Unmarshal(raw, &nodeID) != nil || nodeID <= 0 {
		return 0, badFieldf(field, "%s, the id of the target node or \"auto\", is required", field)
	}
	return nodeID, nil
}

// move moves peer id to node target, or by automatic placement for
// target 0 (within its node's region unless anyRegion). The result always
// has a message.
func (s *server) move(ctx context.Context, who fleet.Actor, id, target int64, anyRegion bool) (fleet.MoveResult, error) {
	var (
		res fleet.MoveResult
		err error
	)
	if target == 0 {
		res, err = s.fleet.MovePeerAuto(ctx, who, id, fleet.DrainOptions{AnyRegion: anyRegion})
	} else {
		res, err = s.fleet.MovePeer(ctx, who, id, target)
	}
	if err == nil && res.Message == "" {
		res.Message = "peer moved; its client config changed (endpoint and address): download it again"
	}
	return res, err
}
