package api

import (
	"net/http"

	"github.com/wgfleet/wgfleet/controller/reconcile"
)

// nodeDrift: GET /api/nodes/{id}/drift lists how the node's agent differs
// from the desired state.
func (s *server) nodeDrift(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r, "node")
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if s.reconciler == nil {
		s.fail(w, r, &requestError{kind: errUnavailable, msg: "the reconciler is not running"})
		return
	}
	drift, err := s.reconciler.Drift(r.Context(), id)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if drift == nil {
		drift = []reconcile.Drift{}
	}
	s.respond(w, http.StatusOK, "", drift)
}

// reconcileNode: POST /api/nodes/{id}/reconcile repairs the node now,
// whatever its drift policy.
func (s *server) reconcileNode(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r, "node")
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if s.reconciler == nil {
		s.fail(w, r, &requestError{kind: errUnavailable, msg: "the reconciler is not running"})
		return
	}
	res, err := s.reconciler.Repair(r.Context(), id)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.respond(w, http.StatusOK, "node reconciled", res)
}
