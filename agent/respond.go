package agent

import (
	"encoding/json"
	"net/http"
	"strconv"

	"github.com/wgfleet/wgfleet/agent/agentapi"
)

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	if raw, ok := v.(encodedJSON); ok {
		w.Header().Set("Content-Length", strconv.Itoa(len(raw)))
		w.WriteHeader(status)
		_, _ = w.Write(raw)
		return
	}
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// writeError answers with the error's status and {"error": "..."}.
func writeError(w http.ResponseWriter, err error) {
	status, msg := statusOf(err)
	writeJSON(w, status, agentapi.ErrorResponse{Error: msg})
}
