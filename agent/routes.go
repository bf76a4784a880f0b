package agent

import (
	"net/http"

	"github.com/gorilla/mux"

	"github.com/wgfleet/wgfleet/agent/agentapi"
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
		writeError(w, errMethod)
	})

	r.HandleFunc("/healthz", a.handleHealthz).Methods(http.MethodGet)
	r.HandleFunc("/health", a.signed(a.handleHealth)).Methods(http.MethodGet)

	for _, p := range []string{"", "/v1"} {
		r.HandleFunc(p+"/wg/{iface}/dump", a.onIface(a.dump)).Methods(http.MethodGet)
		r.HandleFunc(p+"/wg/{iface}/peers", a.onIfaceDeferred(a.addPeer)).Methods(http.MethodPost)
		r.HandleFunc(p+"/wg/{iface}/peers/{pubkey:.+}", a.onIfaceDeferred(a.updatePeer)).Methods(http.MethodPut)
		r.HandleFunc(p+"/wg/{iface}/peers/{pubkey:.+}", a.onIfaceDeferred(a.deletePeer)).Methods(http.MethodDelete)
	}
	r.HandleFunc("/v1/wg/{iface}", a.onIface(a.interfaceInfo)).Methods(http.MethodGet)
	r.HandleFunc("/v1/wg/{iface}/peers", a.onIface(a.dump)).Methods(http.MethodGet)
	r.HandleFunc("/v1/wg/{iface}/peers", a.onIfaceBulk(a.syncPeers)).Methods(http.MethodPut)
	r.HandleFunc("/v1/wg/{iface}/peers/{pubkey:.+}", a.onIface(a.getPeer)).Methods(http.MethodGet)

	// The production agent's endpoints (docs/AGENT_API.md).
	r.HandleFunc("/v1/status", a.signed(a.handleStatus)).Methods(http.MethodGet)
	r.HandleFunc("/v1/metrics", a.signed(a.handleMetrics)).Methods(http.MethodGet)
	r.HandleFunc("/v1/wg/{iface}/config", a.onIface(a.getConfig)).Methods(http.MethodGet)
	r.HandleFunc("/v1/wg/{iface}/syncconf", a.onIface(a.syncConf)).Methods(http.MethodPost)
	r.HandleFunc("/v1/wg/{iface}/enable", a.onIface(a.enable)).Methods(http.MethodPost)
	r.HandleFunc("/v1/wg/{iface}/disable", a.onIface(a.disable)).Methods(http.MethodPost)

	// Secret rotation (docs/AGENT_API.md).
	r.HandleFunc(agentapi.PathSecretRotate, a.signedBy(a.rotateSecret)).Methods(http.MethodPost)
	r.HandleFunc(agentapi.PathSecretConfirm, a.signedBy(a.confirmSecret)).Methods(http.MethodPost)
	return a.logRequests(r)
}
