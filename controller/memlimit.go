package controller

import (
	"log/slog"
	"math"
	"runtime/debug"
)

// applyMemoryLimit gives the Go runtime the soft memory limit limit
// (Config.MemoryLimit), for the whole process; 0 leaves it as it is
// (GOMEMLIMIT, or none).
func applyMemoryLimit(limit int64, log *slog.Logger) {
	if limit == 0 {
		return
	}
	attrs := []any{"bytes", limit}
	if prev := debug.SetMemoryLimit(limit); prev != math.MaxInt64 {
		attrs = append(attrs, "replaced", prev) // GOMEMLIMIT's, or an earlier controller's
	}
	log.Info("memory limit set", attrs...)
}
