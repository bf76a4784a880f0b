// Package poller asks every enabled node's agent, periodically, how it is:
// its health (status online, offline or error, each transition logged
// once), the traffic and last handshake of every peer (written to the
// peer's row; the store keeps totals that survive counter resets), and,
// with a Reconciler, hands it the peer list just read: the reconciler's
// workers, the only ones that reconcile, compare it with the database and
// repair what drifted (a list read before the reconciler's last write to
// the node is read again, never counted as drift).
//
// Nodes are polled in parallel through a bounded worker pool, each under a
// timeout. A node that keeps failing is polled less often (exponential
// backoff up to MaxBackoff), and the start of each cycle is jittered so a
// fleet of controllers does not beat in step. See docs/RECONCILE.md.
package poller
