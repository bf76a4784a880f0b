// Package agentclient keeps one signed agentapi.Client per node, so what a
// client learns about its agent (whether it takes nonces, whether it can
// replace its whole peer set in one call) outlives a single request. The
// poller, the reconciler and the fleet service share one Pool; an agent
// that is not a node yet gets a client from the same constructor (Probe).
//
// It also decides, in one place, whether a failed call reached the agent
// at all (Unreachable): the poller turns that into "offline" rather than
// "error", the reconciler and the fleet service into ErrUnreachable; and
// Describe says what went wrong in words.
package agentclient
