// Package wgrules holds the rules of a WireGuard interface that the tunnel,
// the agent and the controller all apply: what an interface name may be,
// the bounds and default of its MTU, the largest persistent keepalive. Each
// is defined here once, the way wgctrl's wgtypes is the one vocabulary of
// its keys, and every layer refers to it instead of keeping a copy.
//
// The package is a leaf: it imports the standard library only, so that
// package tunnel, which imports neither the agent nor the controller, can
// use it too (held by internal/deptest). Rules of the wire contract alone
// (keys, the secret, the body limit, the request timeout) live in
// agent/agentapi.
package wgrules
