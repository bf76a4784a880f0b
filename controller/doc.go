// Package controller wires the controller together: it opens the store
// under the master key, makes the first user, and runs the fleet service,
// the reconciler, the poller and the HTTP API (with the web UI) until its
// context ends. cmd/wg-controller is a thin main over it.
package controller
