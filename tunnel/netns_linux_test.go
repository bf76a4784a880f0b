package tunnel

import (
	"errors"
	"log/slog"
	"net"
	"testing"

	"github.com/vishvananda/netns"
)

func TestPinNetns(t *testing.T) {
	t.Run("same namespace pins nothing", func(t *testing.T) {
		if p := pinNetns(slog.New(slog.DiscardHandler)); p != nil {
			p.close()
			t.Fatal("pinned the common namespace")
		}
	})
	t.Run("another namespace is pinned", func(t *testing.T) {
		requireRoot(t)
		_, ns, _ := newTestNetns(t)
		var p *nsPin
		inNetns(t, ns, func() { p = pinNetns(slog.New(slog.DiscardHandler)) })
		if p == nil {
			t.Fatal("a constructor in another namespace was not pinned")
		}
		var inside bool
		if err := p.run(func() {
			here, err := netns.Get()
			if err == nil {
				inside = here.Equal(ns)
				here.Close()
			}
		}); err != nil {
			t.Fatal(err)
		}
		if !inside {
			t.Error("run did not call fn in the pinned namespace")
		}
		p.close()
		p.close()
		called := false
		if err := p.run(func() { called = true }); !errors.Is(err, net.ErrClosed) || called {
			t.Errorf("run after close = %v (called %v), want net.ErrClosed without calling", err, called)
		}
	})
	t.Run("nil pin passes through", func(t *testing.T) {
		var p *nsPin
		if p.bind(nil) != nil || p.tun(nil) != nil {
			t.Error("a nil pin wrapped something")
		}
		p.close()
	})
}
