//go:build !linux

package tunnel

import (
	"log/slog"

	"golang.zx2c4.com/wireguard/conn"
	"golang.zx2c4.com/wireguard/tun"
)

// nsPin pins nothing outside Linux, which has no network namespaces.
type nsPin struct{}

func pinNetns(*slog.Logger) *nsPin         { return nil }
func (*nsPin) bind(b conn.Bind) conn.Bind  { return b }
func (*nsPin) tun(d tun.Device) tun.Device { return d }
func (*nsPin) close()                      {}
