package api

import (
	"errors"
	"fmt"
	"net/http"

	"github.com/wgfleet/wgfleet/agent/agentapi"
	"github.com/wgfleet/wgfleet/controller/fleet"
	"github.com/wgfleet/wgfleet/controller/labels"
	"github.com/wgfleet/wgfleet/controller/store"
)

// actor is who makes r, for the audit log.
func actor(r *http.Request) fleet.Actor { return fleet.Actor(principal(r).Actor()) }

// listNodes: GET /api/nodes[?label=key=value...]; several label
// parameters AND together.
func (s *server) listNodes(r *http.Request) (result, error) {
	sel, err := labels.ParseSelector(r.URL.Query()["label"])
	if err != nil {
		return result{}, badRequestf("query parameter label: %v", err)
	}
	nodes, err := s.fleet.ListNodesMatching(r.Context(), sel)
	if err != nil {
		return result{}, err
	}
	return success("", orEmpty(nodes)), nil
}

func (s *server) getNode(r *http.Request) (result, error) {
	id, err := pathID(r, "node")
	if err != nil {
		return result{}, err
	}
	node, err := s.fleet.GetNode(r.Context(), id)
	if err != nil {
		return result{}, err
	}
	return success("", node), nil
}

func (s *server) createNode(r *http.Request) (result, error) {
	in, err := decodeBody(r, decodeNodeInput)
	if err != nil {
		return result{}, err
	}
	node, err := s.fleet.CreateNode(r.Context(), actor(r), in)
	if err != nil {
		return result{}, err
	}
	if node.EndpointDerived {
		return created(fmt.Sprintf("node created; its endpoint %s was derived from the agent's address and listen port: edit the node if clients dial another address", node.Endpoint), node), nil
	}
	return created("node created", node), nil
}

func (s *server) updateNode(r *http.Request) (result, error) {
	id, err := pathID(r, "node")
	if err != nil {
		return result{}, err
	}
	in, err := decodeBody(r, decodeNodeInput)
	if err != nil {
		return result{}, err
	}
	node, err := s.fleet.UpdateNode(r.Context(), actor(r), id, in)
	if err != nil {
		return result{}, err
	}
	return success("node updated", node), nil
}

// deleteNode: DELETE /api/nodes/{id}[?force=true]. Without force a node
// with peers is refused (409, saying how many); with force its peers go
// with it and their addresses are freed.
func (s *server) deleteNode(r *http.Request) (result, error) {
	id, err := pathID(r, "node")
	if err != nil {
		return result{}, err
	}
	force, err := queryBool(r, "force")
	if err != nil {
		return result{}, err
	}
	err = s.fleet.DeleteNode(r.Context(), actor(r), id, force)
	if errors.Is(err, store.ErrNodeHasPeers) {
		if n, gerr := s.fleet.GetNode(r.Context(), id); gerr == nil {
			err = &nodeHasPeersError{peers: n.PeerCount, err: err}
		}
	}
	if err != nil {
		return result{}, err
	}
	return success("node deleted", nil), nil
}

type toggleRequest struct {
	Enabled *bool `json:"enabled"`
}

// toggleNode: POST /api/nodes/{id}/toggle with {"enabled": bool} sets;
// with no body (or a null "enabled") it flips.
func (s *server) toggleNode(r *http.Request) (result, error) {
	id, err := pathID(r, "node")
	if err != nil {
		return result{}, err
	}
	req, err := decodeOptionalBody[toggleRequest](r)
	if err != nil {
		return result{}, err
	}
	node, err := s.fleet.ToggleNode(r.Context(), actor(r), id, req.Enabled)
	if err != nil {
		return result{}, err
	}
	msg := "node disabled"
	if node.Enabled {
		msg = "node enabled"
	}
	return success(msg, node), nil
}

// testNode: POST /api/nodes/{id}/test calls the node's agent. The answer
// is 200 when the test ran; "status" and "message" tell its outcome.
func (s *server) testNode(r *http.Request) (result, error) {
	id, err := pathID(r, "node")
	if err != nil {
		return result{}, err
	}
	res, err := s.fleet.TestNode(r.Context(), id)
	if err != nil {
		return result{}, err
	}
	return tested(res), nil
}

type testConnectionRequest struct {
	AgentURL       *string `json:"agent_url"`
	Secret         *string `json:"secret"`
	WGInterface    *string `json:"wg_interface"`
	TLSFingerprint *string `json:"tls_fingerprint"`
}

// testConnection: POST /api/nodes/test tries an agent URL and secret
// before a node is saved. Answered like testNode.
func (s *server) testConnection(r *http.Request) (result, error) {
	req, err := decodeBody(r, decodeJSON[testConnectionRequest])
	if err != nil {
		return result{}, err
	}
	res, err := s.fleet.TestConnection(r.Context(), deref(req.AgentURL), deref(req.Secret), deref(req.WGInterface), deref(req.TLSFingerprint))
	if err != nil {
		return result{}, err
	}
	return tested(res), nil
}

// tested answers a test that ran: 200 whatever its outcome, which the
// envelope's status and message tell.
func tested(res fleet.TestResult) result {
	return result{status: http.StatusOK, message: res.Message, detail: res.Detail, data: res, failed: !res.OK}
}

type repinRequest struct {
	Expect *string `json:"expect_tls_fingerprint"`
}

// repinNode: POST /api/nodes/{id}/repin pins the certificate the node's
// https agent presents now. An optional body {"expect_tls_fingerprint":
// "..."} (the fingerprint the agent logged) refuses any other (409).
func (s *server) repinNode(r *http.Request) (result, error) {
	id, err := pathID(r, "node")
	if err != nil {
		return result{}, err
	}
	req, err := decodeOptionalBody[repinRequest](r)
	if err != nil {
		return result{}, err
	}
	expect, err := agentapi.ParseFingerprint(deref(req.Expect))
	if err != nil {
		return result{}, badFieldf("expect_tls_fingerprint", "expect_tls_fingerprint: %v", err)
	}
	res, err := s.fleet.RepinNode(r.Context(), actor(r), id, expect)
	if err != nil {
		return result{}, err
	}
	msg := "node re-pinned to " + res.Node.TLSFingerprint
	if !res.Changed {
		msg = "node pin confirmed: " + res.Node.TLSFingerprint
	}
	return success(msg, res), nil
}

// drainRequest is the optional body of POST /api/nodes/{id}/drain.
type drainRequest struct {
	AnyRegion *bool `json:"any_region"`
}

// drainNode: POST /api/nodes/{id}/drain moves every peer off the node,
// within its region unless the body says {"any_region": true}; no body
// is {}.
func (s *server) drainNode(r *http.Request) (result, error) {
	id, err := pathID(r, "node")
	if err != nil {
		return result{}, err
	}
	req, err := decodeOptionalBody[drainRequest](r)
	if err != nil {
		return result{}, err
	}
	res, err := s.fleet.DrainNode(r.Context(), actor(r), id, fleet.DrainOptions{AnyRegion: req.AnyRegion != nil && *req.AnyRegion})
	if err != nil {
		return result{}, err
	}
	msg := res.Message
	if msg == "" {
		msg = "node drained"
	}
	return success(msg, res), nil
}

func deref(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}
