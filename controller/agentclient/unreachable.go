package agentclient

import (
	"context"
	"errors"
	"fmt"

	"github.com/wgfleet/wgfleet/agent/agentapi"
	"github.com/wgfleet/wgfleet/controller/fault"
)

// ErrUnreachable marks a call that got no answer from the agent: it could
// not be dialed, the connection broke, or the request timed out. The
// reconciler, the poller and the fleet service wrap it; an agent that
// answered, even with an error status, is not unreachable. Its fault code
// is EAGENT.
var ErrUnreachable = fault.New(fault.EAGENT, "agent unreachable")

// Unreachable reports whether err, from an agentapi.Client, means the agent
// gave no answer: an error that carries no *agentapi.APIError. A refused
// pinned certificate (*agentapi.PinMismatchError) is an answer, of the
// wrong server: not unreachable. A nil err is not unreachable.
func Unreachable(err error) bool {
	if err == nil {
		return false
	}
	var (
		apiErr *agentapi.APIError
		pinErr *agentapi.PinMismatchError
	)
	return !errors.As(err, &apiErr) && !errors.As(err, &pinErr)
}

// Classify wraps err with ErrUnreachable when Unreachable(err), with
// ErrTLSPinMismatch when it is a refused pinned certificate, and returns
// it unchanged otherwise.
func Classify(err error) error {
	var pinErr *agentapi.PinMismatchError
	switch {
	case errors.As(err, &pinErr) && !errors.Is(err, ErrTLSPinMismatch):
		return fmt.Errorf("%w: %w", ErrTLSPinMismatch, pinErr)
	case Unreachable(err) && !errors.Is(err, ErrUnreachable):
		return fmt.Errorf("%w: %w", ErrUnreachable, err)
	}
	return err
}

// Describe says in words, for a person, what went wrong talking to the
// agent at agentURL: a refused signature, an error answer, an answer from
// something that is not an agent (described, never quoted), no answer in
// time, or no answer at all. Agent errors never carry the secret.
func Describe(agentURL string, err error) string {
	var (
		apiErr *agentapi.APIError
		pinErr *agentapi.PinMismatchError
	)
	switch {
	case errors.As(err, &pinErr):
		return "refused the agent at " + agentURL + ": " + pinErr.Error() + "; if its certificate was changed on purpose, re-pin the node"
	case errors.Is(err, agentapi.ErrUnauthorized):
		return "the agent refused the request's signature: check the secret and that the clocks agree (" + err.Error() + ")"
	case errors.As(err, &apiErr) && apiErr.Foreign:
		return "no wgfleet agent at " + agentURL + ": " + apiErr.Message
	case errors.As(err, &apiErr):
		return "the agent answered with an error: " + apiErr.Error()
	case errors.Is(err, context.DeadlineExceeded):
		return "no answer from " + agentURL + " in time"
	}
	return "cannot reach the agent at " + agentURL + ": " + err.Error()
}
