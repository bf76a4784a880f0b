package api

import (
	"net/http"
)

// nodeDrift: GET /api/nodes/{id}/drift lists how the node's agent differs
// from the desired state.
func (s *server) nodeDrift(r *http.Request) (result, error) {
	id, err := s.reconcileTarget(r)
	if err != nil {
		return result{}, err
	}
	drift, err := s.reconciler.Drift(r.Context(), id)
	if err != nil {
		return result{}, err
	}
	return success("", orEmpty(drift)), nil
}

// reconcileNode: POST /api/nodes/{id}/reconcile repairs the node now,
// whatever its drift policy.
func (s *server) reconcileNode(r *http.Request) (result, error) {
	id, err := s.reconcileTarget(r)
	if err != nil {
		return result{}, err
	}
	res, err := s.reconciler.Repair(r.Context(), id)
	if err != nil {
		return result{}, err
	}
	return success("node reconciled", res), nil
}

// reconcileTarget returns the node id of r's path; an error when it is
// not one, or when there is no reconciler to ask.
func (s *server) reconcileTarget(r *http.Request) (int64, error) {
	id, err := pathID(r, "node")
	if err != nil {
		return 0, err
	}
	if s.reconciler == nil {
		return 0, &requestError{kind: errUnavailable, msg: "the reconciler is not running"}
	}
	return id, nil
}
