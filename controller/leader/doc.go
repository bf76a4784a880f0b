// Package leader picks, among the controller replicas that share one
// PostgreSQL database, the one that writes to the agents: it polls them,
// runs the reconciles, applies peers' expiry and data limits and delivers
// webhooks. The leader is the holder of the store's lease "controller"
// (store.Lease: a session-level advisory lock and a fencing epoch). Every
// replica serves the API and the UI.
//
// An Elector owns the loop that takes the lease, runs the leader's work
// under a context that ends when the lease is lost, and only then lets
// the lease go. It is also the fence the reconciler asks before each
// write to an agent (Allow) and inside the transaction that records what
// it wrote (Check). On SQLite the one process is always the leader: the
// work runs at once and nothing is checked.
package leader
