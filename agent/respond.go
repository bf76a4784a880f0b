package agent

import (
	"encoding/json"
	"io"
	"net/http"
	"strconv"

	"github.com/wgfleet/wgfleet/agent/agentapi"
)

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	if body, ok := v.(sizedJSON); ok {
		w.Header().Set("Content-Length", strconv.Itoa(body.size()))
		w.WriteHeader(status)
		_, _ = body.WriteTo(w)
		body.done()
		return
	}
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// sizedJSON is an answer that writes its JSON itself (final newline
// included), of a length known beforehand, and is done with once written.
type sizedJSON interface {
	size() int
	io.WriterTo
	done()
}

// writeError answers with the error's status and {"error": "..."}.
func writeError(w http.ResponseWriter, err error) {
	status, msg := statusOf(err)
	writeJSON(w, status, agentapi.ErrorResponse{Error: msg})
}
