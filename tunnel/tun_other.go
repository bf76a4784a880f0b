//go:build !linux

package tunnel

import (
	"errors"
	"fmt"
)

// NewTUN is only implemented on Linux; elsewhere it returns an error
// wrapping errors.ErrUnsupported. Use NewNetstack.
func NewTUN(cfg Config) (*Tunnel, error) {
	return nil, fmt.Errorf("interface %s: TUN mode: %w", cfg.Name, errors.ErrUnsupported)
}
