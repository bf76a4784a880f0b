package api

import (
	"encoding/json"
	"net/http"
)

// envelope is WGDashboard's answer format. Message is null when there is
// nothing to say; Data is null when there is no data. Detail, left out
// when empty, is what lies behind a failure's Message (the error chain of
// an agent that could not be reached), for whoever debugs: Message is the
// sentence a person acts on.
type envelope struct {
	Status  bool    `json:"status"`
	Message *string `json:"message"`
	Detail  string  `json:"detail,omitempty"`
	Data    any     `json:"data"`
}

// respond writes a successful answer. An empty message is null.
func (s *server) respond(w http.ResponseWriter, status int, message string, data any) {
	s.writeEnvelope(w, status, envelope{Status: true, Message: optional(message), Data: data})
}

// writeEnvelope writes env as JSON with the given HTTP status. API answers
// are never cached: they may describe secrets' existence and change often.
func (s *server) writeEnvelope(w http.ResponseWriter, status int, env envelope) {
	body, err := json.Marshal(env)
	if err != nil {
		s.log.Error("encoding response", "err", err)
		status = http.StatusInternalServerError
		body = []byte(`{"status":false,"message":"internal error","data":null}`)
	}
	h := w.Header()
	h.Set("Content-Type", "application/json; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = w.Write(append(body, '\n'))
}

func optional(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}
