package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"

	"github.com/wgfleet/wgfleet/agent"
)

// joinFlags are the flags of joining a controller by oneself (issue 12).
type joinFlags struct {
	url, token, caFile, advertise, endpoint string
	// tlsGiven: --tls (or its environment variable or config field) was
	// set; otherwise a joining or joined agent serves HTTPS (auto).
	tlsGiven bool
	// single: the interface comes from the flags, not a --config file.
	single bool
}

// applyEnrollment decides how an agent that joins, or has joined, starts.
// With an enrollment in the state directory the agent takes its secret
// (and the interface's address when none is given) and ignores any join
// flags: later starts need no token. Without one, --join with
// --join-token prepares o.join, which run carries out before the agent
// starts. Unless --tls is given, both serve HTTPS with a self-signed
// certificate (auto).
func applyEnrollment(o *options, j joinFlags) error {
	e, ok, err := agent.LoadEnrollment(o.cfg.StateDir)
	if err != nil {
		return err
	}
	if ok {
		o.enrolled = &e
		useEnrollment(&o.cfg, e, j.tlsGiven)
		return nil
	}
	switch {
	case j.url == "" && j.token == "":
		return nil
	case j.url == "":
		return errors.New("--join-token needs --join, the controller's URL")
	case j.token == "":
		return errors.New("--join needs --join-token (make one with wg-controller enroll-token create, or in the UI's Add node)")
	case !j.single:
		return errors.New("--join cannot be combined with --config: a joining agent runs one interface, set with --iface")
	}
	if !j.tlsGiven {
		o.cfg.TLS = agent.TLSConfig{Mode: agent.TLSAuto}
	}
	ic := o.cfg.Interfaces[0]
	o.join = &agent.JoinConfig{
		ControllerURL: j.url, Token: j.token, CAFile: j.caFile, AdvertiseURL: j.advertise, Endpoint: j.endpoint,
		StateDir: o.cfg.StateDir, Iface: ic.Name, ListenPort: ic.ListenPort, Listen: o.cfg.Listen, TLS: o.cfg.TLS,
	}
	return nil
}

// useEnrollment makes cfg run as enrolled: e's secret is accepted, and
// e's address is the interface's unless addresses were given.
func useEnrollment(cfg *agent.Config, e agent.Enrollment, tlsGiven bool) {
	cfg.Secrets = append(cfg.Secrets, []byte(e.Secret))
	if len(cfg.Interfaces) == 1 && len(cfg.Interfaces[0].Addresses) == 0 && e.Address.IsValid() {
		cfg.Interfaces[0].Addresses = []netip.Prefix{e.Address}
	}
	if !tlsGiven && e.TLS {
		cfg.TLS = agent.TLSConfig{Mode: agent.TLSAuto}
	}
}

// validateJoining checks everything of a joining agent's configuration
// but the secret, which Join makes, so that a bad flag is reported before
// the token is used up.
func validateJoining(cfg agent.Config) error {
	cfg.Secrets = append(cfg.Secrets, bytes.Repeat([]byte("x"), 32))
	return cfg.Validate()
}

// join carries out o.join, if any, and makes o.cfg run as enrolled.
func join(ctx context.Context, o *options, log *slog.Logger) error {
	if o.enrolled != nil {
		log.Info("enrolled; no join token needed", "controller", o.enrolled.Controller, "node_id", o.enrolled.NodeID,
			"name", o.enrolled.Name, "enrolled_at", o.enrolled.EnrolledAt)
		return nil
	}
	if o.join == nil {
		return nil
	}
	log.Info("joining the controller", "controller", o.join.ControllerURL)
	e, err := agent.Join(ctx, *o.join)
	if err != nil {
		return fmt.Errorf("joining the controller at %s: %w", o.join.ControllerURL, err)
	}
	log.Info("joined the fleet", "node_id", e.NodeID, "name", e.Name, "address", e.Address, "agent_url", e.AgentURL, "endpoint", e.Endpoint)
	o.join, o.enrolled = nil, &e
	useEnrollment(&o.cfg, e, true)
	return nil
}
