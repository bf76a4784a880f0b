package api

import (
	"context"
	"net/http"
)

// Replica is this controller among the replicas that share one database:
// its name and which replica leads (polls and reconciles the agents).
// *leader.Elector implements it.
type Replica interface {
	// Name is this replica's name.
	Name() string
	// Leading reports whether this replica leads now.
	Leading() bool
	// Leader is the name of the replica that leads now; "" when none
	// does at this moment (a new leader is taking over).
	Leader(ctx context.Context) (string, error)
}

// statusInfo is the data of GET /api/status.
type statusInfo struct {
	// Replica is the name of the replica that answered.
	Replica string `json:"replica"`
	// Leader is the name of the replica that leads; "" while none does.
	Leader string `json:"leader"`
	// Leading is true when the replica that answered leads.
	Leading bool `json:"leading"`
}

// status answers GET /api/status: which replica answered and which leads.
// Without a Replica (a handler made for tests) it is 503.
func (s *server) status(r *http.Request) (result, error) {
	if s.replica == nil {
		return result{}, &requestError{kind: errUnavailable, msg: "this controller reports no replica status"}
	}
	leader, err := s.replica.Leader(r.Context())
	if err != nil {
		return result{}, err
	}
	return success("", statusInfo{Replica: s.replica.Name(), Leader: leader, Leading: s.replica.Leading()}), nil
}
