// Package agentclient keeps one signed agentapi.Client per node, so what a
// client learns about its agent (whether it takes nonces, whether it can
// replace its whole peer set in one call) outlives a single request. The
// poller and the reconciler share one Pool.
//
// It also decides, in one place, whether a failed call reached the agent
// at all (Unreachable): the poller turns that into "offline" rather than
// "error", the reconciler into ErrUnreachable.
package agentclient
