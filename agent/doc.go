// Package agent is the node agent: it owns one wireguard-go tunnel per
// configured interface, keeps each interface's peers in a state file of its
// own, and serves the signed HTTP API of docs/AGENT_API.md.
//
// Every change goes validate -> apply (one UAPI set) -> persist under the
// interface's mutex, so a request is applied and saved in full or rejected
// with nothing changed.
package agent
