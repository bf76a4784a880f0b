package api

import (
	"net/http"

	"github.com/gorilla/mux"
)

// routes is the table of every route. All of /api except /api/login,
// /api/share/open and /api/enroll needs a principal (authed).
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
	open("/api/share/open", s.openShare, post)
	open("/api/enroll", s.enroll, post)

	authed("/api/logout", s.logout, post)
	authed("/api/me", s.handle(s.me), get)
	authed("/api/tokens", s.handle(s.listTokens), get)
	authed("/api/tokens", s.handle(s.createToken), post)
	authed("/api/tokens/{id}", s.handle(s.revokeToken), del)
	authed("/api/audit", s.handle(s.listAudit), get)
	authed("/api/enrollment-tokens", s.handle(s.listEnrollmentTokens), get)
	authed("/api/enrollment-tokens", s.handle(s.createEnrollmentToken), post)
	authed("/api/enrollment-tokens/{id}", s.handle(s.revokeEnrollmentToken), del)

	// The seed's node endpoints. /api/nodes/test comes before
	// /api/nodes/{id} so that it is not taken for a node id.
	authed("/api/nodes", s.handle(s.listNodes), get)
	authed("/api/nodes", s.handle(s.createNode), post)
	authed("/api/nodes/test", s.handle(s.testConnection), post)
	authed("/api/nodes/{id}", s.handle(s.getNode), get)
	authed("/api/nodes/{id}", s.handle(s.updateNode), put)
	authed("/api/nodes/{id}", s.handle(s.deleteNode), del)
	authed("/api/nodes/{id}/toggle", s.handle(s.toggleNode), post)
	authed("/api/nodes/{id}/test", s.handle(s.testNode), post)
	authed("/api/nodes/{id}/repin", s.handle(s.repinNode), post)
	authed("/api/nodes/{id}/drain", s.handle(s.drainNode), post)
	authed("/api/nodes/{id}/drift", s.handle(s.nodeDrift), get)
	authed("/api/nodes/{id}/reconcile", s.handle(s.reconcileNode), post)
	authed("/api/nodes/{id}/rotate-secret", s.handle(s.rotateSecret), post)
	authed("/api/nodes/{id}/traffic", s.handle(s.nodeTraffic), get)

	authed("/api/nodes/{id}/peers", s.handle(s.listNodePeers), get)
	authed("/api/nodes/{id}/peers", s.handle(s.createNodePeer), post)
	authed("/api/peers", s.handle(s.listPeers), get)
	authed("/api/peers", s.handle(s.createPeer), post)
	authed("/api/peers/bulk", s.handle(s.createPeers), post)
	authed("/api/peers/bulk-action", s.handle(s.bulkAction), post)
	authed("/api/peers/{id}", s.handle(s.getPeer), get)
	authed("/api/peers/{id}", s.handle(s.updatePeer), put)
	authed("/api/peers/{id}", s.handle(s.deletePeer), del)
	authed("/api/peers/{id}/restrict", s.handle(s.restrictPeer), post)
	authed("/api/peers/{id}/allow", s.handle(s.allowPeer), post)
	authed("/api/peers/{id}/config", s.handleFile(s.peerConfig), get)
	authed("/api/peers/{id}/qr", s.handleFile(s.peerQR), get)
	authed("/api/peers/{id}/move", s.handle(s.movePeer), post)
	authed("/api/peers/{id}/share", s.handle(s.createShare), post)
	authed("/api/peers/{id}/shares", s.handle(s.listShares), get)
	authed("/api/shares/{id}", s.handle(s.revokeShare), del)
	authed("/api/peers/{id}/reset-usage", s.handle(s.resetPeerUsage), post)
	authed("/api/peers/{id}/traffic", s.handle(s.peerTraffic), get)
	authed("/api/traffic/nodes", s.handle(s.nodeTrafficTotals), get)

	authed("/api/webhooks", s.handle(s.listWebhooks), get)
	authed("/api/webhooks", s.handle(s.createWebhook), post)
	authed("/api/webhooks/events", s.handle(s.webhookEvents), get)
	authed("/api/webhooks/{id}", s.handle(s.deleteWebhook), del)
	authed("/api/webhooks/{id}/test", s.handle(s.testWebhook), post)
	authed("/api/webhooks/{id}/deliveries", s.handle(s.webhookDeliveries), get)
	if s.metrics != nil {
		authed("/metrics", s.metrics.ServeHTTP, get)
	}
	return r
}

func (s *server) healthz(w http.ResponseWriter, r *http.Request) {
	s.respond(w, http.StatusOK, "ok", nil)
}
