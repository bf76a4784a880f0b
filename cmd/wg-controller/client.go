package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"

	"github.com/wgfleet/wgfleet/controller"
	"github.com/wgfleet/wgfleet/controller/client"
	"github.com/wgfleet/wgfleet/internal/cli"
)

// verb is one subcommand of a command that calls a running controller
// (`node show`, `peer add`). Its flags are its own: flags adds them to the
// verb's set, besides the connection flags, and returns what runs.
type verb struct {
	name    string
	args    string // the positional arguments in the synopsis: "NODE", ""
	nargs   int    // how many positional arguments it takes
	summary string // one line for the command's list
	about   string // more for the verb's -h, "" for none
	noJSON  bool   // its output is a file, never JSON
	flags   func(s *cli.Set) action
}

// action runs a verb with its positional arguments.
type action func(ctx context.Context, r *remote, args []string) error

// remote is what a verb's action works with: the client, and where and
// how to write.
type remote struct {
	c      *client.Client
	json   bool
	stdout io.Writer
	stderr io.Writer
}

// group is a command made of verbs: `node`, `peer`.
type group struct {
	name  string // "node"
	about string // what ID arguments mean, printed under the list
	verbs []verb
}

// usage is the group's help: its verbs, each with its synopsis.
func (g group) usage() string {
	var b strings.Builder
	fmt.Fprintf(&b, "usage: wg-controller %s COMMAND [ARGS] [flags]\n\ncommands:\n", g.name)
	for _, v := range g.verbs {
		fmt.Fprintf(&b, "  %-26s %s\n", strings.TrimSpace(v.name+" "+v.args), v.summary)
	}
	fmt.Fprintf(&b, "\n%s\n", g.about)
	fmt.Fprintf(&b, "They call the controller at --server (env WG_CONTROLLER_URL) with the API token --token\n"+
		"(env WG_CONTROLLER_TOKEN; prefer the environment: a command line shows in the process list).\n"+
		"Exit codes: 0 ok, 1 error, 2 usage or invalid value, 3 not found, 4 conflict, 5 not authorized,\n"+
		"6 controller unreachable (docs/CLI.md).\n"+
		"Run \"wg-controller %s COMMAND -h\" for the flags of a command.", g.name)
	return b.String()
}

// run dispatches args (the verb and what follows) to the verb. Every error
// carries the exit code of its kind (withExitCode).
func (g group) run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprintln(stderr, g.usage())
		return usageErrorf("%s: give a command", g.name)
	}
	var v *verb
	for i := range g.verbs {
		if g.verbs[i].name == args[0] {
			v = &g.verbs[i]
		}
	}
	switch {
	case v != nil:
	case args[0] == "-h" || args[0] == "--help" || args[0] == "help":
		fmt.Fprintln(stderr, g.usage())
		return flag.ErrHelp
	default:
		fmt.Fprintln(stderr, g.usage())
		return usageErrorf("%s: unknown command %q", g.name, args[0])
	}
	full := "wg-controller " + g.name + " " + v.name
	s := cli.NewSet(full, stderr)
	intro := "usage: " + strings.TrimSpace(full+" "+v.args) + " [flags]\n\n" + v.summary
	if v.about != "" {
		intro += "\n" + v.about
	}
	s.SetUsage(intro)
	var (
		server  = cli.String(s, "server", "WG_CONTROLLER_URL", "http://"+controller.DefaultListen, "the controller's URL")
		token   = cli.String(s, "token", "WG_CONTROLLER_TOKEN", "", "API token (wg-controller token create); prefer the environment variable")
		timeout = cli.Duration(s, "timeout", "", client.DefaultTimeout, "how long one call to the controller may take")
		asJSON  *cli.Flag[bool]
	)
	if !v.noJSON {
		asJSON = cli.Bool(s, "json", "", false, "print JSON (the API's data) instead of a table")
	}
	act := v.flags(s)
	pos, err := s.ParseArgs(args[1:], getenv)
	if errors.Is(err, flag.ErrHelp) {
		return err
	}
	if err != nil {
		return &codedError{code: exitUsage, err: fmt.Errorf("%s %s: %w", g.name, v.name, err)}
	}
	if len(pos) != v.nargs {
		want := "no arguments"
		if v.nargs > 0 {
			want = v.args
		}
		return usageErrorf("%s %s takes %s, got %d argument(s); see -h", g.name, v.name, want, len(pos))
	}
	c, err := client.New(client.Config{URL: server.Get(), Token: token.Get(), Timeout: timeout.Get()})
	if err != nil {
		return usageErrorf("--server: %v", err)
	}
	r := &remote{c: c, json: asJSON != nil && asJSON.Get(), stdout: stdout, stderr: stderr}
	err = withExitCode(act(ctx, r, pos))
	if ae, ok := errors.AsType[*client.APIError](err); ok && ae.Status == 401 && token.Get() == "" {
		err = &codedError{code: exitAuth, err: fmt.Errorf("%w; give an API token with --token or WG_CONTROLLER_TOKEN (make one with wg-controller token create)", err)}
	}
	return err
}
