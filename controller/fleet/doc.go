// Package fleet is the controller's service layer: it validates what
// operators ask for (nodes, peers), writes the desired state to the store
// with an audit entry, and asks the reconciler to bring the agents along.
// It knows nothing of HTTP; controller/api decodes requests into its input
// types and maps its errors to statuses.
package fleet
