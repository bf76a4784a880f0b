package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/wgfleet/wgfleet/controller/client"
	"github.com/wgfleet/wgfleet/controller/fleet"
	"github.com/wgfleet/wgfleet/controller/labels"
	"github.com/wgfleet/wgfleet/controller/wgconfig"
	"github.com/wgfleet/wgfleet/internal/cli"
)

// peerCommand is `wg-controller peer ...`: the fleet's peers through a
// running controller's API.
func peerCommand() group {
	return group{name: "peer", about: "PEER is a peer's id or its name (a name several peers share is refused: give the id).\nNODE is a node's id or its name.", verbs: []verb{
		{name: "list", summary: "list the peers, searched and filtered", flags: peerList},
		{name: "show", args: "PEER", nargs: 1, summary: "show a peer", flags: peerShow},
		{name: "add", summary: "create a peer on a node (or on the node placement picks)", flags: peerAdd,
			about: "Required: --node (a node, or auto). Without --public-key the controller makes the key pair,\nand peer config and peer qr hand out the client's config."},
		{name: "edit", args: "PEER", nargs: 1, summary: "change a peer: only the flags given", flags: peerEdit},
		{name: "rm", args: "PEER", nargs: 1, summary: "delete a peer and free its addresses", flags: peerRm},
		{name: "config", args: "PEER", nargs: 1, noJSON: true, summary: "write the peer's wg-quick config (it holds the private key)", flags: peerConfig},
		{name: "qr", args: "PEER", nargs: 1, noJSON: true, summary: "show the peer's config as a QR code in the terminal, or write a PNG", flags: peerQR},
		{name: "move", args: "PEER", nargs: 1, summary: "move a peer to another node (its client needs the new config)", flags: peerMove},
		{name: "restrict", args: "PEER", nargs: 1, summary: "take a peer off its node, keeping it and its address", flags: peerSetEnabled(false)},
		{name: "allow", args: "PEER", nargs: 1, summary: "put a restricted peer back on its node", flags: peerSetEnabled(true)},
	}}
}

// peer runs `wg-controller peer`.
func peer(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	return peerCommand().run(ctx, args, getenv, stdout, stderr)
}

// peerID finds the peer arg names: an id as it is, a name by searching
// the fleet for it; a name several peers have is a usage error.
func (r *remote) peerID(ctx context.Context, arg string) (int64, error) {
	if id, err := strconv.ParseInt(arg, 10, 64); err == nil {
		if id <= 0 {
			return 0, usageErrorf("peer id %d: ids are positive", id)
		}
		return id, nil
	}
	var ids []string
	var found int64
	for p, err := range r.c.Peers(ctx, client.PeerQuery{Text: arg, PageSize: 1000}) {
		if err != nil {
			return 0, err
		}
		if p.Name == arg {
			found = p.ID
			ids = append(ids, strconv.FormatInt(p.ID, 10))
		}
	}
	switch len(ids) {
	case 0:
		return 0, &codedError{code: exitNotFound, err: fmt.Errorf("no peer is named %q", arg)}
	case 1:
		return found, nil
	}
	return 0, usageErrorf("%d peers are named %q (ids %s): give the id", len(ids), arg, strings.Join(ids, ", "))
}

// nodeNames maps node ids to names for a table; on failure it is empty and
// the table shows ids.
func (r *remote) nodeNames(ctx context.Context) map[int64]string {
	names := map[int64]string{}
	nodes, err := r.c.Nodes(ctx)
	if err == nil {
		for _, n := range nodes {
			names[n.ID] = n.Name
		}
	}
	return names
}

func peerList(s *cli.Set) action {
	var (
		node   = cli.String(s, "node", "", "", "only this node's peers (id or name)")
		search = cli.String(s, "search", "", "", "only peers whose name, address or public key holds this text")
		status = cli.String(s, "status", "", "", "only peers in this status: active, restricted, expired or over_limit")
		sel    = cli.List(s, "label", "", parseLabel, "only peers of nodes with this label, key=value (repeat: all of them)")
		limit  = cli.Int(s, "limit", "", 0, "list at most this many peers; 0: all")
	)
	return func(ctx context.Context, r *remote, _ []string) error {
		if limit.Get() < 0 {
			return usageErrorf("--limit %d: must be 0 (all) or more", limit.Get())
		}
		q := client.PeerQuery{Text: search.Get(), Status: status.Get(), PageSize: 1000}
		if node.Get() != "" {
			id, err := r.nodeID(ctx, node.Get())
			if err != nil {
				return err
			}
			q.NodeID = id
		}
		for _, l := range sel.Get() {
			q.Labels = append(q.Labels, l.key+"="+l.value)
		}
		if n := limit.Get(); n > 0 && n < q.PageSize {
			q.PageSize = n
		}
		peers := []fleet.PeerView{}
		for p, err := range r.c.Peers(ctx, q) {
			if err != nil {
				return err
			}
			peers = append(peers, p)
			if len(peers) == limit.Get() {
				break
			}
		}
		var names map[int64]string
		if !r.json {
			names = r.nodeNames(ctx)
		}
		return r.show(peers, func(w io.Writer) {
			row(w, "ID", "NAME", "NODE", "STATUS", "SYNC", "ADDRESS", "HANDSHAKE", "USAGE")
			for _, p := range peers {
				row(w, strconv.FormatInt(p.ID, 10), or(p.Name, "-"), or(names[p.NodeID], strconv.FormatInt(p.NodeID, 10)),
					p.Status, p.SyncState, or(p.Address4, p.Address6), ago(p.LatestHandshake), bytesText(p.Usage))
			}
		})
	}
}

func peerShow(*cli.Set) action {
	return func(ctx context.Context, r *remote, args []string) error {
		id, err := r.peerID(ctx, args[0])
		if err != nil {
			return err
		}
		p, err := r.c.Peer(ctx, id)
		if err != nil {
			return err
		}
		return r.showPeer(ctx, p)
	}
}

// showPeer writes one peer, field by field.
func (r *remote) showPeer(ctx context.Context, p fleet.PeerView) error {
	var names map[int64]string
	if !r.json {
		names = r.nodeNames(ctx)
	}
	return r.show(p, func(w io.Writer) {
		limit := "none"
		if p.DataLimit != nil {
			limit = bytesText(*p.DataLimit) + ", then " + p.LimitAction
		}
		field(w, "ID", strconv.FormatInt(p.ID, 10))
		field(w, "NAME", p.Name)
		field(w, "NODE", fmt.Sprintf("%s (%d)", or(names[p.NodeID], "?"), p.NodeID))
		field(w, "STATUS", p.Status)
		field(w, "SYNC", strings.TrimSpace(p.SyncState+" "+p.SyncError))
		field(w, "PUBLIC KEY", p.PublicKey)
		field(w, "KEYS", "private key held: "+yesNo(p.HasPrivateKey)+", preshared key: "+yesNo(p.HasPresharedKey))
		field(w, "ADDRESS", strings.TrimSpace(p.Address4+" "+p.Address6))
		field(w, "CLIENT ALLOWED IPS", strings.Join(p.ClientAllowedIPs, ", "))
		field(w, "DNS", p.DNS)
		field(w, "KEEPALIVE", fmt.Sprintf("client %d s, node %d s", p.Keepalive, p.NodeKeepalive))
		field(w, "EXPIRES", ago(p.ExpiresAt))
		field(w, "DATA LIMIT", limit)
		field(w, "USAGE", bytesText(p.Usage))
		field(w, "HANDSHAKE", ago(p.LatestHandshake))
		field(w, "TRANSFER", fmt.Sprintf("rx %s, tx %s", bytesText(p.RxTotal), bytesText(p.TxTotal)))
		field(w, "CREATED", when(p.CreatedAt, "-"))
	})
}

// peerFlags are the flags of `peer add` and `peer edit`, one a field of
// the API's peer input.
type peerFlags struct {
	node, name, publicKey, psk, address, dns, expires, dataLimit, limitAction *cli.Flag[string]
	allowedIPs                                                                *cli.Flag[[]string]
	keepalive, nodeKeepalive                                                  *cli.Flag[int]
	placement                                                                 *cli.Flag[[]label]
	disabled                                                                  *cli.Flag[bool]
}

func addPeerFlags(s *cli.Set, create bool) *peerFlags {
	f := &peerFlags{
		name:          cli.String(s, "name", "", "", "the peer's name, unique on its node (letter case aside); required by peer add"),
		publicKey:     cli.String(s, "public-key", "", "", "the client's public key (base64); without it the controller makes the key pair"),
		psk:           cli.String(s, "preshared-key", "", "", "a preshared key (base64), auto to make one, or empty for none"),
		dns:           cli.String(s, "dns", "", "", "DNS servers of the client's config"),
		allowedIPs:    cli.List(s, "allowed-ips", "", func(v string) (string, error) { return strings.TrimSpace(v), nil }, "what the client sends into the tunnel, a CIDR (repeat for more; default 0.0.0.0/0 and ::/0)"),
		keepalive:     cli.Int(s, "keepalive", "", 0, "the client config's PersistentKeepalive, seconds; 0: off"),
		nodeKeepalive: cli.Int(s, "node-keepalive", "", 0, "the node side's persistent keepalive towards the peer, seconds; 0: off"),
		expires:       cli.String(s, "expires", "", "", "when the peer expires: an RFC 3339 time, a duration from now (720h), or never"),
		dataLimit:     cli.String(s, "data-limit", "", "", "bytes the peer may receive and send together (5GiB, 500MB, 1000000), or none"),
		limitAction:   cli.String(s, "limit-action", "", "", "what reaching the data limit does: restrict or delete"),
	}
	if create {
		f.node = cli.String(s, "node", "", "", "the node (id or name), or auto for the enabled, online node with room and the lowest load")
		f.address = cli.String(s, "address", "", "", "the IPv4 address to take from the node's pool; default the next free one")
		f.placement = cli.List(s, "placement-label", "", parseLabel, "with --node auto: choose only among nodes with this label, key=value (repeatable)")
		f.disabled = cli.Bool(s, "disabled", "", false, "create the peer restricted")
	}
	return f
}

// input is the peer input of the flags given; nothing else is sent.
func (f *peerFlags) input() (fleet.PeerInput, error) {
	var in fleet.PeerInput
	for _, p := range []struct {
		flag *cli.Flag[string]
		dst  **string
	}{
		{f.name, &in.Name}, {f.publicKey, &in.PublicKey}, {f.psk, &in.PresharedKey}, {f.address, &in.Address},
		{f.dns, &in.DNS}, {f.limitAction, &in.LimitAction},
	} {
		if p.flag != nil && p.flag.Given() {
			*p.dst = ptr(p.flag.Get())
		}
	}
	if f.allowedIPs.Given() {
		ips := f.allowedIPs.Get()
		in.ClientAllowedIPs = &ips
	}
	if f.keepalive.Given() {
		in.Keepalive = ptr(f.keepalive.Get())
	}
	if f.nodeKeepalive.Given() {
		in.NodeKeepalive = ptr(f.nodeKeepalive.Get())
	}
	if f.expires.Given() {
		raw, err := expiresJSON(f.expires.Get())
		if err != nil {
			return in, usageErrorf("--expires: %v", err)
		}
		in.ExpiresAt = raw
	}
	if f.dataLimit.Given() {
		n, err := parseBytes(f.dataLimit.Get())
		if err != nil {
			return in, usageErrorf("--data-limit: %v", err)
		}
		in.DataLimit = json.RawMessage(strconv.FormatInt(n, 10))
	}
	if f.disabled != nil && f.disabled.Get() {
		in.Enabled = ptr(false)
	}
	if f.placement != nil && len(f.placement.Get()) > 0 {
		in.Placement = &fleet.Placement{Labels: labels.Set{}}
		for _, l := range f.placement.Get() {
			in.Placement.Labels[l.key] = l.value
		}
	}
	return in, nil
}

// expiresJSON is expires_at for v: null for never, else an RFC 3339 time,
// given as such or as a duration from now.
func expiresJSON(v string) (json.RawMessage, error) {
	if v == "never" || v == "" {
		return json.RawMessage("null"), nil
	}
	t, err := time.Parse(time.RFC3339, v)
	if err != nil {
		d, derr := time.ParseDuration(v)
		if derr != nil || d <= 0 {
			return nil, fmt.Errorf("%q is not an RFC 3339 time (2026-12-31T23:59:59Z), a duration from now (720h) or never", v)
		}
		t = time.Now().Add(d)
	}
	return json.Marshal(t.UTC().Truncate(time.Second).Format(time.RFC3339))
}

// parseBytes reads a data limit: a whole number of bytes with an optional
// unit (KB, MB, GB, TB: powers of 1000; KiB, MiB, GiB, TiB: of 1024), or
// none (0: no limit).
func parseBytes(v string) (int64, error) {
	s := strings.TrimSpace(v)
	if s == "none" {
		return 0, nil
	}
	units := []struct {
		suffix string
		mult   int64
	}{
		{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30}, {"TiB", 1 << 40},
		{"KB", 1e3}, {"MB", 1e6}, {"GB", 1e9}, {"TB", 1e12}, {"B", 1},
	}
	mult := int64(1)
	for _, u := range units {
		if num, ok := strings.CutSuffix(s, u.suffix); ok {
			s, mult = strings.TrimSpace(num), u.mult
			break
		}
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 0 || n > (1<<62)/mult {
		return 0, fmt.Errorf("%q is not a number of bytes (like 5GiB, 500MB or 1000000) or none", v)
	}
	return n * mult, nil
}

func peerAdd(s *cli.Set) action {
	f := addPeerFlags(s, true)
	return func(ctx context.Context, r *remote, _ []string) error {
		in, err := f.input()
		if err != nil {
			return err
		}
		if strings.TrimSpace(f.name.Get()) == "" {
			return usageErrorf("peer add: --name is required (unique on the peer's node)")
		}
		switch target := f.node.Get(); target {
		case "":
			return usageErrorf("peer add: --node is required (a node's id or name, or auto)")
		case "auto":
			in.NodeID = json.RawMessage(`"auto"`)
		default:
			id, err := r.nodeID(ctx, target)
			if err != nil {
				return err
			}
			in.NodeID = json.RawMessage(strconv.FormatInt(id, 10))
		}
		p, msg, err := r.c.CreatePeer(ctx, in)
		if err != nil {
			return err
		}
		r.say(msg)
		return r.showPeer(ctx, p)
	}
}

func peerEdit(s *cli.Set) action {
	f := addPeerFlags(s, false)
	return func(ctx context.Context, r *remote, args []string) error {
		in, err := f.input()
		if err != nil {
			return err
		}
		id, err := r.peerID(ctx, args[0])
		if err != nil {
			return err
		}
		p, msg, err := r.c.UpdatePeer(ctx, id, in)
		if err != nil {
			return err
		}
		r.say(msg)
		return r.showPeer(ctx, p)
	}
}

func peerRm(*cli.Set) action {
	return func(ctx context.Context, r *remote, args []string) error {
		id, err := r.peerID(ctx, args[0])
		if err != nil {
			return err
		}
		msg, err := r.c.DeletePeer(ctx, id)
		if err != nil {
			return err
		}
		r.say(msg)
		return nil
	}
}

func peerSetEnabled(enabled bool) func(*cli.Set) action {
	return func(*cli.Set) action {
		return func(ctx context.Context, r *remote, args []string) error {
			id, err := r.peerID(ctx, args[0])
			if err != nil {
				return err
			}
			set := r.c.RestrictPeer
			if enabled {
				set = r.c.AllowPeer
			}
			p, msg, err := set(ctx, id)
			if err != nil {
				return err
			}
			r.say(msg)
			return r.showPeer(ctx, p)
		}
	}
}

func peerMove(s *cli.Set) action {
	var (
		to        = cli.String(s, "to", "", "", "the target node (id or name), or auto for the best other node of the peer's node's region")
		anyRegion = cli.Bool(s, "any-region", "", false, "with --to auto: any region")
	)
	return func(ctx context.Context, r *remote, args []string) error {
		var target client.MoveTarget
		switch to.Get() {
		case "":
			return usageErrorf("peer move: --to is required (a node's id or name, or auto)")
		case "auto":
			target = client.MoveTarget{Auto: true, AnyRegion: anyRegion.Get()}
		default:
			if anyRegion.Get() {
				return usageErrorf("peer move: --any-region goes with --to auto only")
			}
			id, err := r.nodeID(ctx, to.Get())
			if err != nil {
				return err
			}
			target.NodeID = id
		}
		id, err := r.peerID(ctx, args[0])
		if err != nil {
			return err
		}
		res, msg, err := r.c.MovePeer(ctx, id, target)
		if err != nil {
			return err
		}
		r.say(msg)
		return r.show(res, func(w io.Writer) {
			field(w, "PEER", strconv.FormatInt(res.Peer.ID, 10))
			field(w, "FROM", strconv.FormatInt(res.FromNodeID, 10))
			field(w, "TO", strconv.FormatInt(res.ToNodeID, 10))
			field(w, "ENDPOINT", res.Endpoint)
			field(w, "ADDRESS", strings.TrimSpace(res.Address4+" "+res.Address6))
		})
	}
}

func peerConfig(s *cli.Set) action {
	out := cli.String(s, "out", "", "", "write the config to this file (mode 0600); default stdout")
	return func(ctx context.Context, r *remote, args []string) error {
		id, err := r.peerID(ctx, args[0])
		if err != nil {
			return err
		}
		f, err := r.c.PeerConfig(ctx, id)
		if err != nil {
			return err
		}
		return r.writeFile(out.Get(), f.Data, "config")
	}
}

func peerQR(s *cli.Set) action {
	var (
		out    = cli.String(s, "out", "", "", "write the QR code as a PNG image to this file (mode 0600) instead of drawing it")
		invert = cli.Bool(s, "invert", "", false, "draw for a terminal with a light background")
	)
	return func(ctx context.Context, r *remote, args []string) error {
		id, err := r.peerID(ctx, args[0])
		if err != nil {
			return err
		}
		if out.Get() != "" {
			f, err := r.c.PeerQR(ctx, id)
			if err != nil {
				return err
			}
			return r.writeFile(out.Get(), f.Data, "QR code")
		}
		f, err := r.c.PeerConfig(ctx, id)
		if err != nil {
			return err
		}
		text, err := wgconfig.QRText(f.Data, invert.Get())
		if err != nil {
			return err
		}
		_, err = io.WriteString(r.stdout, text)
		return err
	}
}

// writeFile writes data to path with mode 0600 (it may hold a private
// key), or to stdout when path is "" or "-".
func (r *remote) writeFile(path string, data []byte, what string) error {
	if path == "" || path == "-" {
		_, err := r.stdout.Write(data)
		return err
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return fmt.Errorf("writing the %s: %w", what, err)
	}
	if err := f.Chmod(0o600); err != nil { // a file that was there keeps its mode otherwise
		f.Close()
		return fmt.Errorf("writing the %s: %w", what, err)
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return fmt.Errorf("writing the %s: %w", what, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("writing the %s: %w", what, err)
	}
	fmt.Fprintf(r.stderr, "wrote the %s to %s\n", what, path)
	return nil
}
