package fleet

import (
	"fmt"

	"github.com/wgfleet/wgfleet/controller/fault"
)

// Errors of the fleet service, besides the store's (store.ErrNotFound,
// store.ErrConflict, store.ErrNodeHasPeers, store.ErrNodeFull),
// ipam.ErrPoolExhausted and agentclient.ErrUnreachable, which pass through
// wrapped. Each carries a fault code.
var (
	// ErrInvalid wraps every *ValidationError.
	ErrInvalid = fault.New(fault.EINVALID, "invalid input")
	// ErrNoNodeAvailable: automatic placement found no healthy, enabled
	// node with room.
	ErrNoNodeAvailable = fault.New(fault.ECONFLICT, "no node available")
)

// ValidationError says which field of an input is wrong and why.
type ValidationError struct {
	Field   string // JSON name of the field, e.g. "ip_pool_cidr"
	Message string // for a person: what is wrong and what is expected
}

func (e *ValidationError) Error() string { return fmt.Sprintf("%s: %s", e.Field, e.Message) }
func (e *ValidationError) Unwrap() error { return ErrInvalid }

// Invalid makes a *ValidationError.
func Invalid(field, format string, a ...any) error {
	return &ValidationError{Field: field, Message: fmt.Sprintf(format, a...)}
}
