package api

import (
	"context"
	"fmt"
	"mime"
	"net/http"
	"strconv"

	"github.com/wgfleet/wgfleet/controller/fleet"
	"github.com/wgfleet/wgfleet/controller/store"
)

func (s *server) listPeers(w http.ResponseWriter, r *http.Request) {
	peers, err := s.fleet.ListAllPeers(r.Context())
	s.respondPeers(w, r, peers, err)
}

func (s *server) listNodePeers(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r, "node")
	if err != nil {
		s.fail(w, r, err)
		return
	}
	peers, err := s.fleet.ListPeers(r.Context(), id)
	s.respondPeers(w, r, peers, err)
}

func (s *server) respondPeers(w http.ResponseWriter, r *http.Request, peers []fleet.PeerView, err error) {
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if peers == nil {
		peers = []fleet.PeerView{}
	}
	s.respond(w, http.StatusOK, "", peers)
}

func (s *server) getPeer(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r, "peer")
	if err != nil {
		s.fail(w, r, err)
		return
	}
	peer, err := s.fleet.GetPeer(r.Context(), id)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.respond(w, http.StatusOK, "", peer)
}

// createPeer: POST /api/peers; the body's node_id is a node id or "auto".
func (s *server) createPeer(w http.ResponseWriter, r *http.Request) {
	in, err := s.readPeerInput(w, r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.doCreatePeer(w, r, 0, in)
}

// createNodePeer: POST /api/nodes/{id}/peers. A node_id in the body, if
// any, must name the path's node (the fleet checks).
func (s *server) createNodePeer(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r, "node")
	if err != nil {
		s.fail(w, r, err)
		return
	}
	in, err := s.readPeerInput(w, r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.doCreatePeer(w, r, id, in)
}

func (s *server) doCreatePeer(w http.ResponseWriter, r *http.Request, nodeID int64, in fleet.PeerInput) {
	peer, err := s.fleet.CreatePeer(r.Context(), actor(r), nodeID, in)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.respond(w, http.StatusCreated, s.peerCreatedMessage(r.Context(), peer), peer)
}

// peerCreatedMessage says where a new peer stands: applied, on its way to
// a node that answers, or waiting for its node's agent.
func (s *server) peerCreatedMessage(ctx context.Context, peer fleet.PeerView) string {
	if peer.SyncState == "applied" {
		return "peer created"
	}
	node, err := s.fleet.GetNode(ctx, peer.NodeID)
	if err != nil {
		// The peer exists; only its node's name is missing from the message.
		return "peer created; it is applied to the node as soon as the agent answers"
	}
	switch {
	case !node.Enabled:
		return fmt.Sprintf("peer created; node %s is disabled: the peer is applied once the node is enabled", node.Name)
	case node.Status == string(store.NodeOnline):
		return fmt.Sprintf("peer created; it is being applied to node %s", node.Name)
	default:
		return fmt.Sprintf("peer created; it is applied to node %s as soon as the agent answers", node.Name)
	}
}

func (s *server) updatePeer(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r, "peer")
	if err != nil {
		s.fail(w, r, err)
		return
	}
	in, err := s.readPeerInput(w, r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	peer, err := s.fleet.UpdatePeer(r.Context(), actor(r), id, in)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.respond(w, http.StatusOK, "peer updated", peer)
}

func (s *server) readPeerInput(w http.ResponseWriter, r *http.Request) (fleet.PeerInput, error) {
	body, err := readBody(w, r)
	if err != nil {
		return fleet.PeerInput{}, err
	}
	return decodePeerInput(body)
}

func (s *server) deletePeer(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r, "peer")
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if err := s.fleet.DeletePeer(r.Context(), actor(r), id); err != nil {
		s.fail(w, r, err)
		return
	}
	s.respond(w, http.StatusOK, "peer deleted", nil)
}

// restrictPeer: POST /api/peers/{id}/restrict takes the peer off its node
// but keeps it (and its address).
func (s *server) restrictPeer(w http.ResponseWriter, r *http.Request) {
	s.setPeerEnabled(w, r, false, "peer restricted")
}

// allowPeer: POST /api/peers/{id}/allow puts a restricted peer back.
func (s *server) allowPeer(w http.ResponseWriter, r *http.Request) {
	s.setPeerEnabled(w, r, true, "peer allowed")
}

func (s *server) setPeerEnabled(w http.ResponseWriter, r *http.Request, enabled bool, msg string) {
	id, err := pathID(r, "peer")
	if err != nil {
		s.fail(w, r, err)
		return
	}
	peer, err := s.fleet.SetPeerEnabled(r.Context(), actor(r), id, enabled)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.respond(w, http.StatusOK, msg, peer)
}

// peerConfig: GET /api/peers/{id}/config, the client's wg-quick file as
// an attachment. It is the one answer that carries a private key, so it is
// never cached.
func (s *server) peerConfig(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r, "peer")
	if err != nil {
		s.fail(w, r, err)
		return
	}
	name, conf, err := s.fleet.PeerConfig(r.Context(), actor(r), id)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/plain; charset=utf-8")
	h.Set("Content-Disposition", mime.FormatMediaType("attachment", map[string]string{"filename": name}))
	h.Set("Cache-Control", "no-store")
	h.Set("Content-Length", strconv.Itoa(len(conf)))
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(conf)
}

// peerQR: GET /api/peers/{id}/qr, the client config as a QR code (PNG).
func (s *server) peerQR(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r, "peer")
	if err != nil {
		s.fail(w, r, err)
		return
	}
	png, err := s.fleet.PeerQR(r.Context(), actor(r), id)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "image/png")
	h.Set("Cache-Control", "no-store")
	h.Set("Content-Length", strconv.Itoa(len(png)))
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(png)
}

// movePeer: POST /api/peers/{id}/move {"node_id"} moves a peer to another
// node; its client config changes (new endpoint and address).
func (s *server) movePeer(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r, "peer")
	if err != nil {
		s.fail(w, r, err)
		return
	}
	var req struct {
		NodeID *int64 `json:"node_id"`
	}
	if err := decodeRequest(w, r, &req); err != nil {
		s.fail(w, r, err)
		return
	}
	if req.NodeID == nil || *req.NodeID <= 0 {
		s.fail(w, r, badFieldf("node_id", "node_id, the id of the target node, is required"))
		return
	}
	res, err := s.fleet.MovePeer(r.Context(), actor(r), id, *req.NodeID)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	msg := res.Message
	if msg == "" {
		msg = "peer moved; its client config changed (endpoint and address): download it again"
	}
	s.respond(w, http.StatusOK, msg, res)
}
