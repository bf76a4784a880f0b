package api

import (
	"net/http"

	"github.com/gorilla/mux"
)

// routes is the table of every route. All of /api except /api/login needs
// a principal (authed).
func (s *server) routes() *mux.Router {
	r := mux.NewRouter()
	r.NotFoundHandler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.fail(w, r, notFoundf("no such route: %s %s", r.Method, r.URL.Path))
	})
	r.MethodNotAllowedHandler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.fail(w, r, &requestError{kind: errMethod, msg: "method " + r.Method + " is not allowed on " + r.URL.Path})
	})
	const (
		get, post, put, del = http.MethodGet, http.MethodPost, http.MethodPut, http.MethodDelete
	)
	open := func(path string, h http.HandlerFunc, methods ...string) { r.Handle(path, h).Methods(methods...) }
	authed := func(path string, h http.HandlerFunc, methods ...string) {
		r.Handle(path, s.authed(h)).Methods(methods...)
	}

	open("/healthz", s.healthz, get, http.MethodHead)
	open("/api/login", s.login, post)

	authed("/api/logout", s.logout, post)
	authed("/api/me", s.me, get)
	authed("/api/tokens", s.listTokens, get)
	authed("/api/tokens", s.createToken, post)
	authed("/api/tokens/{id}", s.revokeToken, del)

	// The seed's node endpoints. /api/nodes/test comes before
	// /api/nodes/{id} so that it is not taken for a node id.
	authed("/api/nodes", s.listNodes, get)
	authed("/api/nodes", s.createNode, post)
	authed("/api/nodes/test", s.testConnection, post)
	authed("/api/nodes/{id}", s.getNode, get)
	authed("/api/nodes/{id}", s.updateNode, put)
	authed("/api/nodes/{id}", s.deleteNode, del)
	authed("/api/nodes/{id}/toggle", s.toggleNode, post)
	authed("/api/nodes/{id}/test", s.testNode, post)
	authed("/api/nodes/{id}/drain", s.drainNode, post)
	authed("/api/nodes/{id}/drift", s.nodeDrift, get)
	authed("/api/nodes/{id}/reconcile", s.reconcileNode, post)

	authed("/api/nodes/{id}/peers", s.listNodePeers, get)
	authed("/api/nodes/{id}/peers", s.createNodePeer, post)
	authed("/api/peers", s.listPeers, get)
	authed("/api/peers", s.createPeer, post)
	authed("/api/peers/{id}", s.getPeer, get)
	authed("/api/peers/{id}", s.updatePeer, put)
	authed("/api/peers/{id}", s.deletePeer, del)
	authed("/api/peers/{id}/restrict", s.restrictPeer, post)
	authed("/api/peers/{id}/allow", s.allowPeer, post)
	authed("/api/peers/{id}/config", s.peerConfig, get)
	authed("/api/peers/{id}/qr", s.peerQR, get)
	authed("/api/peers/{id}/move", s.movePeer, post)
	if s.metrics != nil {
		authed("/metrics", s.metrics.ServeHTTP, get)
	}
	return r
}

func (s *server) healthz(w http.ResponseWriter, r *http.Request) {
	s.respond(w, http.StatusOK, "ok", nil)
}
