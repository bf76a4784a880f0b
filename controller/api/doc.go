// Package api is all of the controller's HTTP: the REST API under /api,
// /healthz, and the mount point of the web UI. It decodes requests
// strictly into the fleet service's input types, authenticates them
// through controller/auth (session cookie with CSRF token, or an API
// token), answers in WGDashboard's envelope {"status", "message", "data"}
// with real HTTP status codes, and maps every error to its status in one
// place (errors.go).
//
// No response carries a node secret, a private or preshared key, a
// password or a stored token, with two exceptions made on purpose: the
// client config download (GET /api/peers/{id}/config and its QR code),
// which must hold the peer's private key, and the answer to creating an
// API token, which shows that token once.
package api
