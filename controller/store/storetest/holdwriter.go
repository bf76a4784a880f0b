package storetest

import (
	"context"
	"sync"
	"testing"

	"github.com/wgfleet/wgfleet/controller/store"
)

// HoldWriter holds s's writer with a write transaction that waits, so no
// other write commits until release is called; it returns once the
// transaction holds the writer. release lets it commit and returns its
// error, the same at every call; the test's end releases it too.
func HoldWriter(t testing.TB, ctx context.Context, s *store.Store) (release func() error) {
	t.Helper()
	entered, open := make(chan struct{}), make(chan struct{})
	held := make(chan error, 1)
	go func() {
		held <- s.InTx(ctx, func(*store.Tx) error {
			close(entered)
			<-open
			return nil
		})
	}()
	<-entered
	var (
		once sync.Once
		err  error
	)
	release = func() error {
		once.Do(func() { close(open); err = <-held })
		return err
	}
	t.Cleanup(func() { release() })
	return release
}
