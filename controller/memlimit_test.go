package controller

import (
	"log/slog"
	"runtime/debug"
	"testing"
)

// TestApplyMemoryLimit: a limit sets the runtime's, 0 leaves it as it
// was. The limit is the process's: the test puts back the one it found.
func TestApplyMemoryLimit(t *testing.T) {
	was := debug.SetMemoryLimit(-1)
	t.Cleanup(func() { debug.SetMemoryLimit(was) })
	log := slog.New(slog.DiscardHandler)
	const limit = 7 << 30 // far above what a test uses
	applyMemoryLimit(limit, log)
	if got := debug.SetMemoryLimit(-1); got != limit {
		t.Fatalf("limit %d after applying %d", got, int64(limit))
	}
	applyMemoryLimit(0, log)
	if got := debug.SetMemoryLimit(-1); got != limit {
		t.Fatalf("limit %d after applying 0, want %d left as it was", got, int64(limit))
	}
}
