// Package fleet is the controller's service layer: it validates what
// operators ask for (nodes, peers), writes the desired state to the store
// with an audit entry, and asks the reconciler to bring the agents along.
// It knows nothing of HTTP; controller/api decodes requests into its input
// types and maps its errors to statuses.
//
// The database is the desired state and is written first: a change is
// committed (with the bump of each affected node's desired generation and
// an audit entry, in one transaction) before any agent hears of it, and the
// Syncer (controller/reconcile) converges the agents afterwards. So an
// unreachable agent delays a change and never fails or half-applies it;
// this holds for moving a peer between nodes too.
package fleet
