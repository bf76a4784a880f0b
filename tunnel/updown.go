package tunnel

import "fmt"

// SetUp brings the device up (true) or down (false). Down keeps the
// private key and every peer with its configuration; it closes the UDP
// socket, so no handshake or packet passes until the device is up again,
// which binds the same port. In TUN mode the kernel interface stays as it
// is. Setting the state it already has does nothing. Once closed, SetUp
// returns ErrClosed.
func (t *Tunnel) SetUp(up bool) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed {
		return fmt.Errorf("interface %s: %w", t.name, ErrClosed)
	}
	if up == !t.down {
		return nil
	}
	if up {
		if err := t.dev.Up(); err != nil {
			return fmt.Errorf("interface %s: bringing device up (UDP port %d): %w", t.name, t.port, err)
		}
	} else if err := t.dev.Down(); err != nil {
		return fmt.Errorf("interface %s: bringing device down: %w", t.name, err)
	}
	t.down = !up
	t.log.Info("wireguard device state changed", "up", up)
	return nil
}

// IsUp reports whether the device is up: true from construction until a
// SetUp(false).
func (t *Tunnel) IsUp() bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return !t.down
}
