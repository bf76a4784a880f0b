package testenv

import (
	"bytes"
	"runtime"
	"runtime/pprof"
	"testing"
	"time"
)

// GoroutineLeakCheck fails the test if, once its cleanups have run, more
// goroutines are alive than when it started (as wireguard-go's
// device_test.go does). Call it first, so that its cleanup runs last.
func GoroutineLeakCheck(t testing.TB) {
	t.Helper()
	start := runtime.NumGoroutine()
	t.Cleanup(func() {
		if t.Failed() {
			return
		}
		deadline := time.Now().Add(10 * time.Second)
		for time.Now().Before(deadline) {
			if runtime.NumGoroutine() <= start {
				return
			}
			time.Sleep(10 * time.Millisecond)
		}
		var b bytes.Buffer
		_ = pprof.Lookup("goroutine").WriteTo(&b, 1)
		t.Fatalf("goroutine leak: %d at start, %d now:\n%s", start, runtime.NumGoroutine(), b.String())
	})
}
