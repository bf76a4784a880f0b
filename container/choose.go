package container

import (
	"errors"
	"fmt"
	"strings"
)

// ErrTUNUnavailable is wrapped by Choose when TUN mode was asked for and
// this environment cannot create a TUN interface.
var ErrTUNUnavailable = errors.New("TUN mode is not available")

// ErrUnknownMode is wrapped by Choose for a mode other than "auto", "",
// "tun" and "netstack".
var ErrUnknownMode = errors.New("unknown data-plane mode")

// Choice is the data plane to run, and why.
type Choice struct {
	// Mode is ModeTUN or ModeNetstack, never ModeAuto.
	Mode Mode `json:"mode"`
	// Reason is one human sentence explaining the choice.
	Reason string `json:"reason"`
}

// Choose picks the data plane for the requested mode. "auto" (or "")
// picks TUN when /dev/net/tun opens and the process holds CAP_NET_ADMIN
// (opening the device needs no capability, creating an interface does),
// else netstack, saying what was missing. "tun" fails with an error
// wrapping ErrTUNUnavailable, giving the same explanation, when TUN is not
// possible. "netstack" is always possible. Any other value is an error
// wrapping ErrUnknownMode.
func (e Environment) Choose(requested Mode) (Choice, error) {
	missing := e.tunMissing()
	switch requested {
	case ModeAuto, "":
		if missing == "" {
			return Choice{Mode: ModeTUN, Reason: "Using a TUN device: /dev/net/tun opens and the process holds CAP_NET_ADMIN."}, nil
		}
		return Choice{Mode: ModeNetstack, Reason: "Using the user-space netstack because " + missing + e.hint() + "."}, nil
	case ModeTUN:
		if missing == "" {
			return Choice{Mode: ModeTUN, Reason: "Using a TUN device as configured: /dev/net/tun opens and the process holds CAP_NET_ADMIN."}, nil
		}
		return Choice{}, fmt.Errorf("%w: %s%s", ErrTUNUnavailable, missing, e.hint())
	case ModeNetstack:
		return Choice{Mode: ModeNetstack, Reason: "Using the user-space netstack as configured."}, nil
	}
	return Choice{}, fmt.Errorf("%w %q: want %q, %q or %q", ErrUnknownMode, requested, ModeAuto, ModeTUN, ModeNetstack)
}

// tunMissing names what stands in the way of a TUN interface, as a
// clause; "" when nothing does.
func (e Environment) tunMissing() string {
	var why []string
	if !e.TUNAvailable {
		s := "/dev/net/tun cannot be opened"
		if e.TUNError != "" {
			s += " (" + e.TUNError + ")"
		}
		why = append(why, s)
	}
	if !e.CapNetAdmin {
		why = append(why, "the process lacks CAP_NET_ADMIN")
	}
	return strings.Join(why, " and ")
}

// hint suggests, inside a container whose runtime is known, how to grant
// what is missing.
func (e Environment) hint() string {
	if !e.Container {
		return ""
	}
	var grant []string
	switch e.Runtime {
	case RuntimeDocker, RuntimePodman:
		if !e.CapNetAdmin {
			grant = append(grant, "--cap-add NET_ADMIN")
		}
		if !e.TUNAvailable {
			grant = append(grant, "--device /dev/net/tun")
		}
	case RuntimeKubernetes:
		if !e.CapNetAdmin {
			grant = append(grant, "the NET_ADMIN capability in securityContext.capabilities.add")
		}
		if !e.TUNAvailable {
			grant = append(grant, "the /dev/net/tun device")
		}
	}
	if len(grant) == 0 {
		return " (running in a container)"
	}
	return fmt.Sprintf(" (running in %s; grant %s for TUN mode)", e.Runtime, strings.Join(grant, " and "))
}
