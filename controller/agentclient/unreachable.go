package agentclient

import (
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
