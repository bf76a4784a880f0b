package agentclient

import (
	"errors"
	"fmt"

	"github.com/wgfleet/wgfleet/agent/agentapi"
	"github.com/wgfleet/wgfleet/controller/fault"
)

// ErrUnreachable marks a call that got no answer from the agent: it could
// not be dialed, the connection broke, or the request timed out. The
// reconciler and the poller wrap it; an agent that answered, even with an
// error status, is not unreachable.
var ErrUnreachable = fault.New(fault.EAGENT, "agent unreachable")

// Unreachable reports whether err, from an agentapi.Client, means the agent
// gave no answer: an error that carries no *agentapi.APIError. A nil err is
// not unreachable.
func Unreachable(err error) bool {
	if err == nil {
		return false
	}
	var apiErr *agentapi.APIError
	return !errors.As(err, &apiErr)
}

// Classify wraps err with ErrUnreachable when Unreachable(err), and
// returns it unchanged otherwise.
func Classify(err error) error {
	if Unreachable(err) && !errors.Is(err, ErrUnreachable) {
		return fmt.Errorf("%w: %w", ErrUnreachable, err)
	}
	return err
}
