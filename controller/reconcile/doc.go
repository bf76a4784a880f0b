// Package reconcile makes every node's agent hold the peers the
// controller's database says it should, and reports where the two differ.
//
// The database is the desired state: a node's peers that belong on it
// (store.Peer.OnNode: enabled, and neither expired nor over their data
// limit), on the node's interface, each with its allowed IPs (its own /32 and /128),
// preshared key and keepalive. The agent's peer list is the actual state.
// A Reconciler compares the two for one node (Drift), decides what to do
// under the node's drift policy, applies it with the fewest calls (one
// atomic replace-all when the difference is large and the agent supports
// it, single-peer calls otherwise), then records the result: peers the
// agent took are marked applied, peers it refused carry its message, and
// the node's desired generation read before the desired peers is
// acknowledged when everything went through.
//
// An agent that cannot be reached leaves everything pending and the call
// fails with ErrUnreachable; the next reconcile (after the next poll or
// the next Trigger) picks up where this one stopped, so an agent that was
// down while peers changed, or that restarted empty, converges without
// anybody acting. Reconciles of one node never overlap; different nodes
// run in parallel. docs/RECONCILE.md describes the design; one limit to
// know: agents never show preshared keys, so a preshared key changed on
// the node behind the controller's back cannot be seen (see Drift).
package reconcile
