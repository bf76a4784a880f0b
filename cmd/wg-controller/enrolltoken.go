package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/wgfleet/wgfleet/agent/agentapi"
	"github.com/wgfleet/wgfleet/controller/api"
	"github.com/wgfleet/wgfleet/controller/fleet"
	"github.com/wgfleet/wgfleet/internal/cli"
)

const enrollTokenUsage = `usage:
  wg-controller enroll-token create [--name NAME] [--label k=v]... [--expires 1h] [--pool CIDR]
                                    [--url URL] [--join-pin SHA256] [--data-dir DIR]
        print a new join token once on stdout (the join command goes to stderr)
  wg-controller enroll-token list [--data-dir DIR]
  wg-controller enroll-token revoke --id ID [--data-dir DIR]
Run "wg-controller enroll-token SUBCOMMAND -h" for the flags of a subcommand.`

// label is one --label key=value.
type label struct{ key, value string }

func parseLabel(v string) (label, error) {
	k, val, ok := strings.Cut(v, "=")
	if !ok || strings.TrimSpace(k) == "" {
		return label{}, fmt.Errorf("%q is not key=value", v)
	}
	return label{key: strings.TrimSpace(k), value: val}, nil
}

// enrollToken manages join tokens straight in the database. `create`
// prints the token alone on stdout, once.
func enrollToken(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprintln(stderr, enrollTokenUsage)
		return errors.New("enroll-token: give a subcommand: create, list or revoke")
	}
	sub := args[0]
	s := cli.NewSet("wg-controller enroll-token "+sub, stderr)
	var (
		name, expires, pool, url *cli.Flag[string]
		labels                   *cli.Flag[[]label]
		pin                      *cli.Flag[agentapi.Fingerprint]
		id                       *cli.Flag[int64]
	)
	switch sub {
	case "create":
		name = cli.String(s, "name", "", "", "name of the node; default: the joining agent's host name")
		labels = cli.List(s, "label", "", parseLabel, "a label of the node, key=value (repeat for more)")
		expires = cli.String(s, "expires", "", fleet.DefaultJoinTTL.String(), "lifetime of the token, from 1m to 720h")
		pool = cli.String(s, "pool", "", "", "the node's IPv4 pool; default: carved from the controller's --pool-supernet")
		url = cli.String(s, "url", "WG_CONTROLLER_PUBLIC_URL", "", "the controller's URL as agents reach it, for the join command")
		pin = cli.Var(s, "join-pin", "WG_CONTROLLER_JOIN_PIN", agentapi.Fingerprint{}, parsePin, "SHA-256 of the controller's TLS certificate, carried in the token")
	case "revoke":
		id = cli.Int64(s, "id", "", 0, "id of the token to revoke (see enroll-token list)")
	case "list":
	case "-h", "--help", "help":
		fmt.Fprintln(stderr, enrollTokenUsage)
		return flag.ErrHelp
	default:
		fmt.Fprintln(stderr, enrollTokenUsage)
		return fmt.Errorf("enroll-token: unknown subcommand %q (create, list, revoke)", sub)
	}
	o, err := parseOffline(s, args[1:], getenv, stderr)
	if err != nil {
		return err
	}
	if sub == "revoke" && id.Get() <= 0 {
		return errors.New("enroll-token revoke: --id is required (see enroll-token list)")
	}
	st, err := o.open(ctx)
	if err != nil {
		return err
	}
	defer st.Close()
	f := fleet.New(fleet.Config{Store: st, Logger: o.log})
	const actor fleet.Actor = "cli"
	switch sub {
	case "create":
		in := fleet.EnrollmentTokenInput{Name: ptr(name.Get()), ExpiresIn: ptr(expires.Get()), IPPool: ptr(pool.Get())}
		if ls := labels.Get(); len(ls) > 0 {
			in.Labels = map[string]string{}
			for _, l := range ls {
				in.Labels[l.key] = l.value
			}
		}
		tok, v, err := f.CreateEnrollmentToken(ctx, actor, in, pin.Get())
		if err != nil {
			return err
		}
		fmt.Fprintln(stdout, tok.String())
		u := url.Get()
		if u == "" {
			u = "https://CONTROLLER"
		}
		fmt.Fprintf(stderr, "created enrollment token %d (expires %s); it is shown only this once. On the new node run:\n  %s\n",
			v.ID, when(v.ExpiresAt, "never"), api.JoinCommand(u, tok.String()))
	case "list":
		toks, err := f.ListEnrollmentTokens(ctx)
		if err != nil {
			return err
		}
		tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "ID\tPREFIX\tNAME\tLABELS\tPOOL\tSTATE\tEXPIRES\tNODE")
		for _, t := range toks {
			node := "-"
			if t.NodeID != nil {
				node = fmt.Sprint(*t.NodeID)
			}
			fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", t.ID, t.Prefix, or(t.Name, "(host name)"), or(t.Labels.String(), "-"),
				or(t.IPPool, "(carved)"), t.State, when(t.ExpiresAt, "never"), node)
		}
		return tw.Flush()
	case "revoke":
		if err := f.RevokeEnrollmentToken(ctx, actor, id.Get()); err != nil {
			return err
		}
		fmt.Fprintf(stderr, "revoked enrollment token %d\n", id.Get())
	}
	return nil
}

func or(s, none string) string {
	if s == "" {
		return none
	}
	return s
}
