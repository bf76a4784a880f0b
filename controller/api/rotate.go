package api

import "net/http"

// rotateSecret: POST /api/nodes/{id}/rotate-secret gives the node's agent
// a new secret without downtime (fleet.Service.RotateSecret). 200 with the
// node when done; 409 for an agent that cannot take a secret this way
// (with the manual procedure's place in the docs) or a rotation under way;
// 502 when the agent could not finish it (the node stays reachable, and a
// second call finishes it).
func (s *server) rotateSecret(r *http.Request) (result, error) {
	id, err := pathID(r, "node")
	if err != nil {
		return result{}, err
	}
	if _, err := readBody(r); err != nil {
		return result{}, err
	}
	res, err := s.fleet.RotateSecret(r.Context(), actor(r), id)
	if err != nil {
		return result{}, err
	}
	msg := "node secret rotated"
	if res.Resumed {
		msg = "node secret rotated (an unfinished rotation was finished)"
	}
	return success(msg, res), nil
}
