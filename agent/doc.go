// Package agent is the node agent: it owns one wireguard-go tunnel per
// configured interface, keeps each interface's peers on disk (a snapshot and
// a journal of batches, peerstore.go), and serves the signed HTTP API of
// docs/AGENT_API.md.
//
// Every change is validated in full, then group-committed: one committer
// per interface applies all queued changes that fit in one UAPI set and
// appends them to the journal as one fsynced record, and answers each
// request only after that; a batch costs what it changes, not the size of
// the peer set. A
// request is applied and saved in full or rejected with nothing changed
// (tunnel.Tunnel.Configure undoes a batch the device refuses part-way).
//
// Netstack interfaces route in user space (tunnel/forward) under an egress
// policy; optional Prometheus metrics are served on a listener of their
// own (Config.MetricsListen).
package agent
