package reconcile

import (
	"github.com/wgfleet/wgfleet/controller/agentclient"
	"github.com/wgfleet/wgfleet/controller/fault"
)

var (
	// ErrUnreachable wraps every failure caused by an agent that did not
	// answer (refused connection, broken connection, timeout). It is the
	// same error as agentclient.ErrUnreachable. Nothing is lost: peers not
	// yet applied stay pending for the next reconcile.
	ErrUnreachable = agentclient.ErrUnreachable
	// ErrNodeDisabled is returned by Drift for a disabled node, whose
	// agent the controller leaves alone. ReconcileNode does not fail for
	// one; its Result says Skipped instead.
	ErrNodeDisabled = fault.New(fault.ECONFLICT, "node disabled")
	// ErrStopped is the outcome of a background reconcile asked for
	// after Run returned, or still waiting when it did.
	ErrStopped = fault.New(fault.EUNAVAILABLE, "reconciler stopped")
)
