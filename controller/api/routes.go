package api

import (
	"net/http"

	"github.com/gorilla/mux"

	"github.com/wgfleet/wgfleet/controller/auth"
)

// routes is the table of every route and the least role each needs:
// the one place where roles are enforced (authed checks them). Every
// route is either open (no credentials: /healthz, /api/login,
// /api/session, /api/share/open, /api/enroll) or authed with a role; a route made
// otherwise has no entry in s.access, and TestEveryRouteHasARole fails.
func (s *server) routes() *mux.Router {
	r := mux.NewRouter()
	r.NotFoundHandler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.fail(w, r, notFoundf("no such route: %s %s", r.Method, r.URL.Path))
	})
	r.MethodNotAllowedHandler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.fail(w, r, &requestError{kind: errMethod, msg: "method " + r.Method + " is not allowed on " + r.URL.Path})
	})
	const (
		get, post, put, patch, del = http.MethodGet, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete
	)
	const (
		viewer, operator, admin = auth.RoleViewer, auth.RoleOperator, auth.RoleAdmin
	)
	s.access = map[string]routeAccess{}
	declare := func(path string, a routeAccess, methods []string) {
		for _, m := range methods {
			s.access[m+" "+path] = a
		}
	}
	open := func(path string, h http.HandlerFunc, methods ...string) {
		declare(path, routeAccess{open: true}, methods)
		r.Handle(path, h).Methods(methods...)
	}
	authed := func(role auth.Role, path string, h http.HandlerFunc, methods ...string) {
		declare(path, routeAccess{role: role}, methods)
		r.Handle(path, s.authed(role, h)).Methods(methods...)
	}

	open("/healthz", s.healthz, get, http.MethodHead)
	open("/api/login", s.login, post)
	open("/api/share/open", s.openShare, post)
	open("/api/enroll", s.enroll, post)
	open("/api/session", s.session, get)

	// One's own account. A viewer or operator sees and revokes only the
	// tokens they made (listTokens, revokeToken), and makes none above
	// their role (auth.CreateTokenFor).
	authed(viewer, "/api/logout", s.logout, post)
	authed(viewer, "/api/me", s.handle(s.me), get)
	authed(viewer, "/api/status", s.handle(s.status), get)
	authed(viewer, "/api/me/password", s.handle(s.changeOwnPassword), post)
	authed(viewer, "/api/me/totp", s.handle(s.beginTOTP), post)
	authed(viewer, "/api/me/totp/confirm", s.handle(s.confirmTOTP), post)
	authed(viewer, "/api/me/totp/disable", s.handle(s.disableTOTP), post)
	authed(viewer, "/api/tokens", s.handle(s.listTokens), get)
	authed(viewer, "/api/tokens", s.handle(s.createToken), post)
	authed(viewer, "/api/tokens/{id}", s.handle(s.revokeToken), del)
	authed(viewer, "/api/demo", s.handle(s.demoInfo), get)

	authed(admin, "/api/users", s.handle(s.listUsers), get)
	authed(admin, "/api/users", s.handle(s.createUser), post)
	authed(admin, "/api/users/{id}", s.handle(s.updateUser), patch)
	authed(admin, "/api/users/{id}", s.handle(s.deleteUser), del)
	authed(admin, "/api/users/{id}/totp", s.handle(s.resetTOTP), del)
	authed(admin, "/api/audit", s.handle(s.listAudit), get)
	authed(admin, "/api/enrollment-tokens", s.handle(s.listEnrollmentTokens), get)
	authed(admin, "/api/enrollment-tokens", s.handle(s.createEnrollmentToken), post)
	authed(admin, "/api/enrollment-tokens/{id}", s.handle(s.revokeEnrollmentToken), del)

	// The seed's node endpoints. /api/nodes/test comes before
	// /api/nodes/{id} so that it is not taken for a node id.
	authed(viewer, "/api/nodes", s.handle(s.listNodes), get)
	authed(admin, "/api/nodes", s.handle(s.createNode), post)
	authed(admin, "/api/nodes/test", s.handle(s.testConnection), post)
	authed(viewer, "/api/nodes/{id}", s.handle(s.getNode), get)
	authed(admin, "/api/nodes/{id}", s.handle(s.updateNode), put)
	authed(admin, "/api/nodes/{id}", s.handle(s.deleteNode), del)
	authed(admin, "/api/nodes/{id}/toggle", s.handle(s.toggleNode), post)
	authed(admin, "/api/nodes/{id}/test", s.handle(s.testNode), post)
	authed(admin, "/api/nodes/{id}/repin", s.handle(s.repinNode), post)
	authed(admin, "/api/nodes/{id}/drain", s.handle(s.drainNode), post)
	authed(viewer, "/api/nodes/{id}/drift", s.handle(s.nodeDrift), get)
	authed(admin, "/api/nodes/{id}/reconcile", s.handle(s.reconcileNode), post)
	authed(admin, "/api/nodes/{id}/rotate-secret", s.handle(s.rotateSecret), post)
	authed(viewer, "/api/nodes/{id}/traffic", s.handle(s.nodeTraffic), get)

	// Peers are the operator's. A peer's config and QR code hold its
	// private key: not for viewers.
	authed(viewer, "/api/nodes/{id}/peers", s.handle(s.listNodePeers), get)
	authed(operator, "/api/nodes/{id}/peers", s.handle(s.createNodePeer), post)
	authed(viewer, "/api/peers", s.handle(s.listPeers), get)
	authed(operator, "/api/peers", s.handle(s.createPeer), post)
	authed(operator, "/api/peers/bulk", s.handle(s.createPeers), post)
	authed(operator, "/api/peers/bulk-action", s.handle(s.bulkAction), post)
	authed(viewer, "/api/peers/{id}", s.handle(s.getPeer), get)
	authed(operator, "/api/peers/{id}", s.handle(s.updatePeer), put)
	authed(operator, "/api/peers/{id}", s.handle(s.deletePeer), del)
	authed(operator, "/api/peers/{id}/restrict", s.handle(s.restrictPeer), post)
	authed(operator, "/api/peers/{id}/allow", s.handle(s.allowPeer), post)
	authed(operator, "/api/peers/{id}/config", s.handleFile(s.peerConfig), get)
	authed(operator, "/api/peers/{id}/qr", s.handleFile(s.peerQR), get)
	authed(operator, "/api/peers/{id}/move", s.handle(s.movePeer), post)
	authed(operator, "/api/peers/{id}/share", s.handle(s.createShare), post)
	authed(operator, "/api/peers/{id}/shares", s.handle(s.listShares), get)
	authed(operator, "/api/shares/{id}", s.handle(s.revokeShare), del)
	authed(operator, "/api/peers/{id}/reset-usage", s.handle(s.resetPeerUsage), post)
	authed(viewer, "/api/peers/{id}/traffic", s.handle(s.peerTraffic), get)
	authed(viewer, "/api/traffic/nodes", s.handle(s.nodeTrafficTotals), get)

	authed(admin, "/api/webhooks", s.handle(s.listWebhooks), get)
	authed(admin, "/api/webhooks", s.handle(s.createWebhook), post)
	authed(admin, "/api/webhooks/events", s.handle(s.webhookEvents), get)
	authed(admin, "/api/webhooks/{id}", s.handle(s.deleteWebhook), del)
	authed(admin, "/api/webhooks/{id}/test", s.handle(s.testWebhook), post)
	authed(admin, "/api/webhooks/{id}/deliveries", s.handle(s.webhookDeliveries), get)
	if s.metrics != nil {
		authed(viewer, "/metrics", s.metrics.ServeHTTP, get)
	}
	return r
}

// routeAccess is who may use a route: anyone (open), or a principal with
// role or above.
type routeAccess struct {
	open bool
	role auth.Role
}

func (s *server) healthz(w http.ResponseWriter, r *http.Request) {
	s.respond(w, http.StatusOK, "ok", nil)
}
