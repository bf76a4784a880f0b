package api

import (
	"bytes"
	"errors"
	"net/http"

	"github.com/wgfleet/wgfleet/controller/fleet"
	"github.com/wgfleet/wgfleet/controller/store"
)

// actor is who makes r, for the audit log.
func actor(r *http.Request) fleet.Actor { return fleet.Actor(principal(r).Actor()) }

func (s *server) listNodes(w http.ResponseWriter, r *http.Request) {
	nodes, err := s.fleet.ListNodes(r.Context())
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if nodes == nil {
		nodes = []fleet.NodeView{}
	}
	s.respond(w, http.StatusOK, "", nodes)
}

func (s *server) getNode(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r, "node")
	if err != nil {
		s.fail(w, r, err)
		return
	}
	node, err := s.fleet.GetNode(r.Context(), id)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.respond(w, http.StatusOK, "", node)
}

func (s *server) createNode(w http.ResponseWriter, r *http.Request) {
	body, err := readBody(w, r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	in, err := decodeNodeInput(body)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	node, err := s.fleet.CreateNode(r.Context(), actor(r), in)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.respond(w, http.StatusCreated, "node created", node)
}

func (s *server) updateNode(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r, "node")
	if err != nil {
		s.fail(w, r, err)
		return
	}
	body, err := readBody(w, r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	in, err := decodeNodeInput(body)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	node, err := s.fleet.UpdateNode(r.Context(), actor(r), id, in)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.respond(w, http.StatusOK, "node updated", node)
}

// deleteNode: DELETE /api/nodes/{id}[?force=true]. Without force a node
// with peers is refused (409, saying how many); with force its peers go
// with it and their addresses are freed.
func (s *server) deleteNode(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r, "node")
	if err != nil {
		s.fail(w, r, err)
		return
	}
	force, err := queryBool(r, "force")
	if err != nil {
		s.fail(w, r, err)
		return
	}
	err = s.fleet.DeleteNode(r.Context(), actor(r), id, force)
	if errors.Is(err, store.ErrNodeHasPeers) {
		if n, gerr := s.fleet.GetNode(r.Context(), id); gerr == nil {
			err = &nodeHasPeersError{peers: n.PeerCount, err: err}
		}
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.respond(w, http.StatusOK, "node deleted", nil)
}

type toggleRequest struct {
	Enabled *bool `json:"enabled"`
}

// toggleNode: POST /api/nodes/{id}/toggle with {"enabled": bool} sets;
// with no body (or a null "enabled") it flips.
func (s *server) toggleNode(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r, "node")
	if err != nil {
		s.fail(w, r, err)
		return
	}
	body, err := readBody(w, r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	var req toggleRequest
	if len(bytes.TrimSpace(body)) > 0 {
		if err := decodeStrict(body, &req); err != nil {
			s.fail(w, r, err)
			return
		}
	}
	node, err := s.fleet.ToggleNode(r.Context(), actor(r), id, req.Enabled)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	msg := "node disabled"
	if node.Enabled {
		msg = "node enabled"
	}
	s.respond(w, http.StatusOK, msg, node)
}

// testNode: POST /api/nodes/{id}/test calls the node's agent. The answer
// is 200 when the test ran; "status" and "message" tell its outcome.
func (s *server) testNode(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r, "node")
	if err != nil {
		s.fail(w, r, err)
		return
	}
	res, err := s.fleet.TestNode(r.Context(), id)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.writeEnvelope(w, http.StatusOK, envelope{Status: res.OK, Message: optional(res.Message), Data: res})
}

type testConnectionRequest struct {
	AgentURL    *string `json:"agent_url"`
	Secret      *string `json:"secret"`
	WGInterface *string `json:"wg_interface"`
}

// testConnection: POST /api/nodes/test tries an agent URL and secret
// before a node is saved. Answered like testNode.
func (s *server) testConnection(w http.ResponseWriter, r *http.Request) {
	var req testConnectionRequest
	if err := decodeRequest(w, r, &req); err != nil {
		s.fail(w, r, err)
		return
	}
	res, err := s.fleet.TestConnection(r.Context(), deref(req.AgentURL), deref(req.Secret), deref(req.WGInterface))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.writeEnvelope(w, http.StatusOK, envelope{Status: res.OK, Message: optional(res.Message), Data: res})
}

func (s *server) drainNode(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r, "node")
	if err != nil {
		s.fail(w, r, err)
		return
	}
	res, err := s.fleet.DrainNode(r.Context(), actor(r), id)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	msg := res.Message
	if msg == "" {
		msg = "node drained"
	}
	s.respond(w, http.StatusOK, msg, res)
}

func deref(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}
