// Package agentapi is the wire contract between the controller and the node
// agents (docs/AGENT_API.md): the JSON types, request signing and its
// verification (timestamp window, replay cache, nonces, several secrets),
// the one parser of WireGuard keys in text (as a body carries them, and the
// looser forms of a path), the policy for shared secrets, the body limit
// and the request timeout, and the typed Client the controller uses. The
// controller reaches agents only through this package. Rules the tunnel
// needs too (interface names, MTU, keepalive) are in package wgrules.
package agentapi
