//go:build !linux

package tunnel

import (
	"log/slog"

	"golang.zx2c4.com/wireguard/conn"
)

// newBind returns the UDP bind for a new device, and a func that releases
// it once the device is closed.
func newBind(*slog.Logger) (conn.Bind, func()) {
	return conn.NewDefaultBind(), func() {}
}
