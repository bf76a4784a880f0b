package agent

import (
	"net/http"

	"github.com/gorilla/mux"
)

// routes builds the API of docs/AGENT_API.md. Every seed endpoint is served
// bare and under /v1; the extensions only under /v1. The router never cleans
// paths: a standard-base64 key may hold "//".
func (a *Agent) routes() http.Handler {
	r := mux.NewRouter().SkipClean(true)
	r.NotFoundHandler = http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		writeError(w, notFoundf("no such endpoint"))
	})
	r.MethodNotAllowedHandler = http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusMethodNotAllowed, map[string]string{"error": "method not allowed"})
	})

	r.HandleFunc("/healthz", a.handleHealthz).Methods(http.MethodGet)
	r.HandleFunc("/health", a.signed(a.handleHealth)).Methods(http.MethodGet)

	for _, p := range []string{"", "/v1"} {
		r.HandleFunc(p+"/wg/{iface}/dump", a.signed(a.handleDump)).Methods(http.MethodGet)
		r.HandleFunc(p+"/wg/{iface}/peers", a.signed(a.handleAddPeer)).Methods(http.MethodPost)
		r.HandleFunc(p+"/wg/{iface}/peers/{pubkey:.+}", a.signed(a.handleUpdatePeer)).Methods(http.MethodPut)
		r.HandleFunc(p+"/wg/{iface}/peers/{pubkey:.+}", a.signed(a.handleDeletePeer)).Methods(http.MethodDelete)
	}
	r.HandleFunc("/v1/wg/{iface}", a.signed(a.handleInterface)).Methods(http.MethodGet)
	r.HandleFunc("/v1/wg/{iface}/peers", a.signed(a.handleListPeers)).Methods(http.MethodGet)
	r.HandleFunc("/v1/wg/{iface}/peers", a.signed(a.handleSyncPeers)).Methods(http.MethodPut)
	r.HandleFunc("/v1/wg/{iface}/peers/{pubkey:.+}", a.signed(a.handleGetPeer)).Methods(http.MethodGet)
	return a.logRequests(r)
}
