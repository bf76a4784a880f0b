package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/wgfleet/wgfleet/controller/auth"
	"github.com/wgfleet/wgfleet/internal/cli"
)

const tokenUsage = `usage:
  wg-controller token create --name NAME [--expires 720h] [--role admin] [--data-dir DIR]
        print a new API token once on stdout
  wg-controller token list [--data-dir DIR]
  wg-controller token revoke --id ID [--data-dir DIR]
Run "wg-controller token SUBCOMMAND -h" for the flags of a subcommand.`

// token manages API tokens straight in the database, for scripts and the
// first setup. `create` prints the token alone on stdout, once.
func token(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprintln(stderr, tokenUsage)
		return errors.New("token: give a subcommand: create, list or revoke")
	}
	sub := args[0]
	s := cli.NewSet("wg-controller token "+sub, stderr)
	var (
		name    *cli.Flag[string]
		role    *cli.Flag[string]
		id      *cli.Flag[int64]
		expires *cli.Flag[time.Duration]
	)
	switch sub {
	case "create":
		name = cli.String(s, "name", "", "", "name of the new token")
		expires = cli.Duration(s, "expires", "", 0, "lifetime of the new token, e.g. 720h (1m to 87600h); 0: never expires")
		role = cli.String(s, "role", "", string(auth.RoleAdmin), "role of the new token: admin, operator or viewer")
	case "revoke":
		id = cli.Int64(s, "id", "", 0, "id of the token to revoke (see token list)")
	case "list":
	case "-h", "--help", "help":
		fmt.Fprintln(stderr, tokenUsage)
		return flag.ErrHelp
	default:
		fmt.Fprintln(stderr, tokenUsage)
		return fmt.Errorf("token: unknown subcommand %q (create, list, revoke)", sub)
	}
	o, err := parseOffline(s, args[1:], getenv, stderr)
	if err != nil {
		return err
	}
	switch {
	case sub == "create" && name.Get() == "":
		return errors.New("token create: --name is required")
	case sub == "revoke" && id.Get() <= 0:
		return errors.New("token revoke: --id is required (see token list)")
	}
	st, a, err := o.openAuth(ctx)
	if err != nil {
		return err
	}
	defer st.Close()
	const actor = "cli"
	switch sub {
	case "create":
		r, err := auth.ParseRole(role.Get())
		if err != nil {
			return fmt.Errorf("token create: --role: %w", err)
		}
		plain, tok, err := a.CreateTokenWithRole(ctx, actor, name.Get(), expires.Get(), r)
		if err != nil {
			return err
		}
		fmt.Fprintln(stdout, plain)
		fmt.Fprintf(stderr, "created API token %d %q (role %s, expires: %s); it is shown only this once\n", tok.ID, tok.Name, tok.Role, when(tok.ExpiresAt, "never"))
	case "list":
		toks, err := a.ListTokens(ctx)
		if err != nil {
			return err
		}
		tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "ID\tNAME\tPREFIX\tROLE\tCREATED\tLAST USED\tEXPIRES\tREVOKED")
		for _, t := range toks {
			fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", t.ID, t.Name, t.Prefix, t.Role,
				when(t.CreatedAt, "-"), when(t.LastUsedAt, "never"), when(t.ExpiresAt, "never"), when(t.RevokedAt, "-"))
		}
		return tw.Flush()
	case "revoke":
		if err := a.RevokeToken(ctx, actor, id.Get()); err != nil {
			return err
		}
		fmt.Fprintf(stderr, "revoked API token %d\n", id.Get())
	}
	return nil
}

// when formats t for a person, or says none when t is zero.
func when(t time.Time, none string) string {
	if t.IsZero() {
		return none
	}
	return t.UTC().Format(time.RFC3339)
}
