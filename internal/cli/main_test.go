package cli

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"testing"
)

func TestExitCode(t *testing.T) {
	for _, tc := range []struct {
		err        error
		code       int
		wantStderr string
	}{
		{nil, 0, ""},
		{flag.ErrHelp, 0, ""},
		{fmt.Errorf("parsing flags: %w", flag.ErrHelp), 0, ""},
		{errors.New("boom"), 1, "wg-test: boom\n"},
		{fmt.Errorf("finding peer: %w", codedError{3}), 3, "wg-test: finding peer: coded 3\n"},
		{codedError{0}, 1, "wg-test: coded 0\n"},
	} {
		var stderr bytes.Buffer
		if got := ExitCode("wg-test", tc.err, &stderr); got != tc.code {
			t.Errorf("ExitCode(%v) = %d, want %d", tc.err, got, tc.code)
		}
		if stderr.String() != tc.wantStderr {
			t.Errorf("ExitCode(%v) wrote %q, want %q", tc.err, stderr.String(), tc.wantStderr)
		}
	}
}

// codedError is an error with an exit code of its own.
type codedError struct{ code int }

func (e codedError) Error() string { return fmt.Sprintf("coded %d", e.code) }
func (e codedError) ExitCode() int { return e.code }
