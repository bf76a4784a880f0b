package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

// RunFunc is a command's whole program: its arguments (without the
// program name), its environment and its output streams, under a context
// that is cancelled when the program should stop.
type RunFunc func(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error

// Main is the main function both commands share: it runs run with the
// process's arguments, environment and standard streams under a context
// that SIGINT and SIGTERM cancel, and exits as ExitCode says.
func Main(name string, run RunFunc) {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr)
	stop()
	os.Exit(ExitCode(name, err, os.Stderr))
}

// ExitCoder is an error that chooses its own exit status (a command's
// documented codes, such as 3 for "not found").
type ExitCoder interface {
	error
	ExitCode() int
}

// ExitCode is the exit status for run's error: 0 for none or for
// flag.ErrHelp (help was asked for and printed), else, after writing
// "name: err" to stderr, the code of the first ExitCoder in err's chain,
// or 1.
func ExitCode(name string, err error, stderr io.Writer) int {
	if err == nil || errors.Is(err, flag.ErrHelp) {
		return 0
	}
	fmt.Fprintln(stderr, name+":", err)
	if ec, ok := errors.AsType[ExitCoder](err); ok && ec.ExitCode() != 0 {
		return ec.ExitCode()
	}
	return 1
}
