// Package agentapi is the wire contract between the controller and the node
// agents (docs/AGENT_API.md): the JSON types, request signing and its
// verification (timestamp window, replay cache, nonces, several secrets),
// decoding of the peer key in a path, and the typed Client the controller
// uses. The controller reaches agents only through this package.
package agentapi
