package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"

	"github.com/wgfleet/wgfleet/controller/fleet"
	"github.com/wgfleet/wgfleet/controller/labels"
	"github.com/wgfleet/wgfleet/internal/cli"
)

// nodeCommand is `wg-controller node ...`: the fleet's nodes through a
// running controller's API.
func nodeCommand() group {
	return group{name: "node", about: "NODE is a node's id or its name.", verbs: []verb{
		{name: "list", summary: "list the nodes", flags: nodeList},
		{name: "show", args: "NODE", nargs: 1, summary: "show a node", flags: nodeShow},
		{name: "add", summary: "register a node (its agent must run already)", flags: nodeAdd,
			about: "Required: --name, --agent-url, --secret or --secret-file, --pool."},
		{name: "edit", args: "NODE", nargs: 1, summary: "change a node: only the flags given", flags: nodeEdit},
		{name: "enable", args: "NODE", nargs: 1, summary: "enable a node: its peers are applied", flags: nodeToggle(true)},
		{name: "disable", args: "NODE", nargs: 1, summary: "disable a node: the controller leaves it alone", flags: nodeToggle(false)},
		{name: "test", args: "NODE", nargs: 1, summary: "test the connection to the node's agent (exit 1 when it fails)", flags: nodeTest},
		{name: "rm", args: "NODE", nargs: 1, summary: "delete a node (with --force, with its peers)", flags: nodeRm},
	}}
}

// node runs `wg-controller node`.
func node(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	return nodeCommand().run(ctx, args, getenv, stdout, stderr)
}

// nodeID finds the node arg names: an id as it is, a name by listing the
// nodes.
func (r *remote) nodeID(ctx context.Context, arg string) (int64, error) {
	if id, err := strconv.ParseInt(arg, 10, 64); err == nil {
		if id <= 0 {
			return 0, usageErrorf("node id %d: ids are positive", id)
		}
		return id, nil
	}
	nodes, err := r.c.Nodes(ctx)
	if err != nil {
		return 0, err
	}
	for _, n := range nodes {
		if n.Name == arg {
			return n.ID, nil
		}
	}
	return 0, &codedError{code: exitNotFound, err: fmt.Errorf("no node is named %q", arg)}
}

func nodeList(s *cli.Set) action {
	sel := cli.List(s, "label", "", parseLabel, "only nodes with this label, key=value (repeat: all of them)")
	return func(ctx context.Context, r *remote, _ []string) error {
		var terms []string
		for _, l := range sel.Get() {
			terms = append(terms, l.key+"="+l.value)
		}
		nodes, err := r.c.Nodes(ctx, terms...)
		if err != nil {
			return err
		}
		return r.show(orEmptyList(nodes), func(w io.Writer) {
			row(w, "ID", "NAME", "STATUS", "ENABLED", "PEERS", "POOL", "ENDPOINT", "AGENT", "LABELS")
			for _, n := range nodes {
				row(w, strconv.FormatInt(n.ID, 10), n.Name, n.Status, yesNo(n.Enabled), strconv.Itoa(n.PeerCount),
					or(n.IPPool, "-"), or(n.Endpoint, "-"), n.AgentURL, or(n.Labels.String(), "-"))
			}
		})
	}
}

func nodeShow(*cli.Set) action {
	return func(ctx context.Context, r *remote, args []string) error {
		id, err := r.nodeID(ctx, args[0])
		if err != nil {
			return err
		}
		n, err := r.c.Node(ctx, id)
		if err != nil {
			return err
		}
		return r.showNode(n)
	}
}

// showNode writes one node, field by field.
func (r *remote) showNode(n fleet.NodeView) error {
	return r.show(n, func(w io.Writer) {
		field(w, "ID", strconv.FormatInt(n.ID, 10))
		field(w, "NAME", n.Name)
		field(w, "STATUS", n.Status)
		field(w, "ENABLED", yesNo(n.Enabled))
		field(w, "LAST SEEN", ago(n.LastSeen))
		field(w, "LAST ERROR", n.LastError)
		field(w, "AGENT", n.AgentURL)
		field(w, "AGENT VERSION", n.AgentVersion)
		field(w, "TLS PIN", n.TLSFingerprint)
		field(w, "INTERFACE", n.WGInterface)
		field(w, "ENDPOINT", n.Endpoint)
		field(w, "POOL", n.IPPool)
		field(w, "POOL6", n.IPPool6)
		field(w, "DNS", n.DNS)
		field(w, "PEERS", strconv.Itoa(n.PeerCount))
		field(w, "MAX PEERS", strconv.Itoa(n.MaxPeers))
		field(w, "WEIGHT", strconv.Itoa(n.Weight))
		field(w, "DRIFT POLICY", n.DriftPolicy)
		field(w, "DRIFT", fmt.Sprintf("%d now, %d seen, checked %s", n.DriftCurrent, n.DriftCount, ago(n.DriftCheckedAt)))
		field(w, "LABELS", n.Labels.String())
		field(w, "CREATED", when(n.CreatedAt, "-"))
	})
}

// nodeFlags are the flags of `node add` and `node edit`, one a field of
// the API's node input.
type nodeFlags struct {
	name, agentURL, secret, secretFile, iface, endpoint, pool, pool6, dns, drift, pin *cli.Flag[string]
	weight, maxPeers                                                                  *cli.Flag[int]
	labels                                                                            *cli.Flag[[]label]
	clearLabels, disabled, allowOverlap                                               *cli.Flag[bool]
}

func addNodeFlags(s *cli.Set, create bool) *nodeFlags {
	f := &nodeFlags{
		name:       cli.String(s, "name", "", "", "the node's name"),
		agentURL:   cli.String(s, "agent-url", "", "", "the agent's API URL, http://HOST:8080 or https://..."),
		secret:     cli.String(s, "secret", "", "", "the agent's shared secret (prefer --secret-file: a command line shows in the process list)"),
		secretFile: cli.String(s, "secret-file", "", "", "read the agent's secret from this file (- for stdin)"),
		iface:      cli.String(s, "interface", "", "", "the agent's WireGuard interface (default wg0)"),
		endpoint:   cli.String(s, "endpoint", "", "", endpointHelp(create)),
		pool:       cli.String(s, "pool", "", "", "IPv4 pool of the peers' addresses, a CIDR"),
		pool6:      cli.String(s, "pool6", "", "", "IPv6 pool of the peers' addresses, a CIDR"),
		dns:        cli.String(s, "dns", "", "", "DNS servers of the clients' configs"),
		drift:      cli.String(s, "drift-policy", "", "", "repair or report"),
		pin:        cli.String(s, "tls-fingerprint", "", "", "SHA-256 of an https agent's certificate to pin; empty unpins"),
		weight:     cli.Int(s, "weight", "", 0, "weight in automatic placement (default 100)"),
		maxPeers:   cli.Int(s, "max-peers", "", 0, "most peers the node takes; 0: no limit"),
		labels:     cli.List(s, "label", "", parseLabel, "a label of the node, key=value (repeat for more; on edit they replace the node's labels)"),
		allowOverlap: cli.Bool(s, "allow-overlap", "", false,
			"let the node's pools overlap another node's (refused otherwise; only for nodes meant to hand out the same addresses)"),
	}
	if create {
		f.disabled = cli.Bool(s, "disabled", "", false, "register the node disabled")
	} else {
		f.clearLabels = cli.Bool(s, "clear-labels", "", false, "remove every label of the node")
	}
	return f
}

// input is the node input of the flags given; nothing else is sent.
func (f *nodeFlags) input() (fleet.NodeInput, error) {
	var in fleet.NodeInput
	for _, p := range []struct {
		flag *cli.Flag[string]
		dst  **string
	}{
		{f.name, &in.Name}, {f.agentURL, &in.AgentURL}, {f.iface, &in.WGInterface}, {f.endpoint, &in.Endpoint},
		{f.pool, &in.IPPool}, {f.pool6, &in.IPPool6}, {f.dns, &in.DNS}, {f.drift, &in.DriftPolicy}, {f.pin, &in.TLSFingerprint},
	} {
		if p.flag.Given() {
			*p.dst = ptr(p.flag.Get())
		}
	}
	if f.weight.Given() {
		in.Weight = ptr(f.weight.Get())
	}
	if f.maxPeers.Given() {
		in.MaxPeers = ptr(f.maxPeers.Get())
	}
	switch {
	case f.secret.Given() && f.secretFile.Given():
		return in, usageErrorf("give --secret or --secret-file, not both")
	case f.secret.Given():
		in.Secret = ptr(f.secret.Get())
	case f.secretFile.Given():
		secret, err := readSecretFile(f.secretFile.Get())
		if err != nil {
			return in, err
		}
		in.Secret = &secret
	}
	if ls := f.labels.Get(); len(ls) > 0 {
		in.Labels = labels.Set{}
		for _, l := range ls {
			in.Labels[l.key] = l.value
		}
	}
	if f.clearLabels != nil && f.clearLabels.Get() {
		if len(in.Labels) > 0 {
			return in, usageErrorf("give --label or --clear-labels, not both")
		}
		in.Labels = labels.Set{}
	}
	if f.disabled != nil && f.disabled.Get() {
		in.Enabled = ptr(false)
	}
	if f.allowOverlap.Get() {
		in.AllowOverlap = ptr(true)
	}
	return in, nil
}

// endpointHelp is the help of --endpoint: on add, it may be left out.
func endpointHelp(create bool) string {
	if create {
		return "HOST:PORT clients reach the node's WireGuard at; without it, the host of --agent-url (or of the controller's public URL for an agent on loopback) and the port the agent's interface listens on"
	}
	return "HOST:PORT clients reach the node's WireGuard at"
}

// readSecretFile reads a secret from path ("-": stdin), without the line
// break at its end.
func readSecretFile(path string) (string, error) {
	var (
		b   []byte
		err error
	)
	if path == "-" {
		b, err = io.ReadAll(io.LimitReader(os.Stdin, 64<<10))
	} else {
		b, err = os.ReadFile(path)
	}
	if err != nil {
		return "", fmt.Errorf("reading the secret: %w", err)
	}
	return strings.TrimRight(string(b), "\r\n"), nil
}

func nodeAdd(s *cli.Set) action {
	f := addNodeFlags(s, true)
	return func(ctx context.Context, r *remote, _ []string) error {
		in, err := f.input()
		if err != nil {
			return err
		}
		n, msg, err := r.c.CreateNode(ctx, in)
		if err != nil {
			return err
		}
		r.say(msg)
		return r.showNode(n)
	}
}

func nodeEdit(s *cli.Set) action {
	f := addNodeFlags(s, false)
	return func(ctx context.Context, r *remote, args []string) error {
		in, err := f.input()
		if err != nil {
			return err
		}
		id, err := r.nodeID(ctx, args[0])
		if err != nil {
			return err
		}
		n, msg, err := r.c.UpdateNode(ctx, id, in)
		if err != nil {
			return err
		}
		r.say(msg)
		return r.showNode(n)
	}
}

func nodeToggle(enabled bool) func(*cli.Set) action {
	return func(*cli.Set) action {
		return func(ctx context.Context, r *remote, args []string) error {
			id, err := r.nodeID(ctx, args[0])
			if err != nil {
				return err
			}
			n, msg, err := r.c.SetNodeEnabled(ctx, id, enabled)
			if err != nil {
				return err
			}
			r.say(msg)
			return r.showNode(n)
		}
	}
}

func nodeTest(*cli.Set) action {
	return func(ctx context.Context, r *remote, args []string) error {
		id, err := r.nodeID(ctx, args[0])
		if err != nil {
			return err
		}
		res, err := r.c.TestNode(ctx, id)
		if err != nil {
			return err
		}
		if err := r.show(res, func(w io.Writer) {
			field(w, "OK", yesNo(res.OK))
			field(w, "LATENCY", fmt.Sprintf("%d ms", res.LatencyMS))
			field(w, "VERSION", res.Version)
			field(w, "INTERFACES", strings.Join(res.Interfaces, ", "))
			field(w, "MESSAGE", res.Message)
		}); err != nil {
			return err
		}
		if !res.OK {
			return &codedError{code: exitError, err: fmt.Errorf("the connection test failed: %s", res.Message)}
		}
		return nil
	}
}

func nodeRm(s *cli.Set) action {
	force := cli.Bool(s, "force", "", false, "delete the node's peers with it (their addresses are freed)")
	return func(ctx context.Context, r *remote, args []string) error {
		id, err := r.nodeID(ctx, args[0])
		if err != nil {
			return err
		}
		msg, err := r.c.DeleteNode(ctx, id, force.Get())
		if err != nil {
			return err
		}
		r.say(msg)
		return nil
	}
}

// orEmptyList is list, or an empty one for nil, so that --json prints []
// rather than null.
func orEmptyList[T any](list []T) []T {
	if list == nil {
		return []T{}
	}
	return list
}
