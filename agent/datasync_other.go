//go:build !linux

package agent

import "os"

// syncData is f.Sync where fdatasync is not at hand.
func syncData(f *os.File) error { return f.Sync() }
