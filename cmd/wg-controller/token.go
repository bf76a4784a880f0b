package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/wgfleet/wgfleet/controller"
	"github.com/wgfleet/wgfleet/controller/auth"
)

// token manages API tokens straight in the database, for scripts and the
// first setup. `create` prints the token alone on stdout, once.
func token(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return errors.New("token: give a subcommand: create, list or revoke")
	}
	sub := args[0]
	fs := flag.NewFlagSet("wg-controller token "+sub, flag.ContinueOnError)
	fs.SetOutput(stderr)
	name := fs.String("name", "", "name of the new token (create)")
	id := fs.Int64("id", 0, "id of the token to revoke (revoke)")
	o, err := parseOffline(fs, args[1:], getenv, stderr)
	if err != nil {
		return err
	}
	switch sub {
	case "create":
		if *name == "" {
			return errors.New("token create: --name is required")
		}
	case "revoke":
		if *id <= 0 {
			return errors.New("token revoke: --id is required (see token list)")
		}
	case "list":
	default:
		return fmt.Errorf("token: unknown subcommand %q (create, list, revoke)", sub)
	}
	st, err := controller.OpenStore(ctx, o.dataDir, o.key)
	if err != nil {
		return err
	}
	defer st.Close()
	a, err := auth.New(auth.Config{Store: st, Logger: o.log})
	if err != nil {
		return err
	}
	const actor = "cli"
	switch sub {
	case "create":
		plain, tok, err := a.CreateToken(ctx, actor, *name)
		if err != nil {
			return err
		}
		fmt.Fprintln(stdout, plain)
		fmt.Fprintf(stderr, "created API token %d %q; it is shown only this once\n", tok.ID, tok.Name)
	case "list":
		toks, err := a.ListTokens(ctx)
		if err != nil {
			return err
		}
		tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "ID\tNAME\tPREFIX\tCREATED\tLAST USED\tREVOKED")
		for _, t := range toks {
			fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\n", t.ID, t.Name, t.Prefix, when(t.CreatedAt), when(t.LastUsedAt), when(t.RevokedAt))
		}
		return tw.Flush()
	case "revoke":
		if err := a.RevokeToken(ctx, actor, *id); err != nil {
			return err
		}
		fmt.Fprintf(stderr, "revoked API token %d\n", *id)
	}
	return nil
}

func when(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.UTC().Format(time.RFC3339)
}
