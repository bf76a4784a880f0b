package container

import (
	"bufio"
	"bytes"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// Runtime names reported in Environment.Runtime.
const (
	RuntimeDocker        = "docker"
	RuntimePodman        = "podman"
	RuntimeKubernetes    = "kubernetes"
	RuntimeLXC           = "lxc"
	RuntimeSystemdNspawn = "systemd-nspawn"
	RuntimeContainerd    = "containerd"
)

// capNetAdmin is the bit of CAP_NET_ADMIN in the capability sets of
// /proc/PID/status (linux/capability.h).
const capNetAdmin = 12

// Environment is what Detect found. A fact that could not be read is
// reported as false (or "" / -1), never as an error.
type Environment struct {
	// Container reports that some sign of a container was found.
	Container bool `json:"container"`
	// Runtime is one of the Runtime* names, or "" when none was found or
	// the container's runtime is unknown.
	Runtime string `json:"runtime,omitempty"`
	// TUNAvailable reports that /dev/net/tun could be opened read-write.
	// That alone does not allow creating an interface: that takes
	// CAP_NET_ADMIN too.
	TUNAvailable bool `json:"tun_available"`
	// TUNError says why /dev/net/tun could not be opened; "" when it could.
	TUNError string `json:"tun_error,omitempty"`
	// CapNetAdmin reports CAP_NET_ADMIN in the effective capability set.
	CapNetAdmin bool `json:"cap_net_admin"`
	// UserNamespace reports a user namespace other than the initial one
	// (rootless containers, unprivileged LXC), where root is not the
	// host's root.
	UserNamespace bool `json:"user_namespace"`
	// EUID is the effective user ID; -1 when unknown.
	EUID int `json:"euid"`
}

// Prober detects the environment from a file tree.
type Prober struct {
	// Root is prefixed to every path read (/proc/..., /.dockerenv,
	// /run/.containerenv, /dev/net/tun ...); "" means "/".
	Root string
}

// Detect probes the running system; it is Prober{}.Detect().
func Detect() Environment { return Prober{}.Detect() }

// Detect probes the tree under p.Root.
func (p Prober) Detect() Environment {
	var e Environment
	e.Container, e.Runtime = p.containerRuntime()
	e.TUNAvailable, e.TUNError = p.tun()
	status := p.status()
	e.CapNetAdmin = hasCap(status["CapEff"], capNetAdmin)
	e.EUID = effectiveUID(status["Uid"])
	if e.EUID < 0 && p.root() == "/" {
		e.EUID = os.Geteuid()
	}
	e.UserNamespace = p.userNamespace()
	return e
}

func (p Prober) root() string {
	if p.Root == "" {
		return "/"
	}
	return p.Root
}

func (p Prober) path(name string) string { return filepath.Join(p.root(), name) }

func (p Prober) read(name string) ([]byte, error) { return os.ReadFile(p.path(name)) }

func (p Prober) exists(name string) bool {
	_, err := os.Stat(p.path(name))
	return err == nil
}

// containerRuntime looks for signs of a container, strongest first:
// Kubernetes' service environment; the container= variable that runtimes
// give to the container's init; /run/systemd/container; the marker files
// of podman and docker; then runtime names in the cgroup paths of PID 1
// and in the sources of the root, /etc/hosts, /etc/hostname and
// /etc/resolv.conf mounts.
func (p Prober) containerRuntime() (bool, string) {
	self := parseEnviron(p.read("proc/self/environ"))
	init := parseEnviron(p.read("proc/1/environ"))
	if self["KUBERNETES_SERVICE_HOST"] != "" || init["KUBERNETES_SERVICE_HOST"] != "" {
		return true, RuntimeKubernetes
	}
	for _, v := range []string{init["container"], self["container"]} {
		if v != "" {
			return true, runtimeFromName(v)
		}
	}
	if b, err := p.read("run/systemd/container"); err == nil {
		if v := strings.TrimSpace(string(b)); v != "" {
			return true, runtimeFromName(v)
		}
	}
	if p.exists("run/.containerenv") {
		return true, RuntimePodman
	}
	if p.exists(".dockerenv") {
		return true, RuntimeDocker
	}
	if rt := hintIn(p.initCgroups()); rt != "" {
		return true, rt
	}
	if rt := hintIn(p.containerMounts()); rt != "" {
		return true, rt
	}
	return false, ""
}

// runtimeFromName maps the value of container= (or of
// /run/systemd/container) to a runtime name; "" for one we do not know,
// such as "oci".
func runtimeFromName(v string) string {
	switch v = strings.ToLower(v); {
	case v == "docker":
		return RuntimeDocker
	case v == "podman":
		return RuntimePodman
	case v == "lxc" || strings.HasPrefix(v, "lxc-"):
		return RuntimeLXC
	case v == "systemd-nspawn":
		return RuntimeSystemdNspawn
	case v == "containerd":
		return RuntimeContainerd
	case v == "kubernetes":
		return RuntimeKubernetes
	}
	return ""
}

// hintIn returns the runtime whose name appears in any of the strings,
// checking the orchestrator before the engines it runs on.
func hintIn(ss []string) string {
	hints := []struct{ substr, runtime string }{
		{"kubepods", RuntimeKubernetes},
		{"kubelet", RuntimeKubernetes},
		{"libpod", RuntimePodman},
		{"/containers/storage/", RuntimePodman},
		{"docker", RuntimeDocker},
		{"containerd", RuntimeContainerd},
		{"lxc", RuntimeLXC},
	}
	for _, h := range hints {
		for _, s := range ss {
			if strings.Contains(s, h.substr) {
				return h.runtime
			}
		}
	}
	return ""
}

// initCgroups returns the cgroup paths of PID 1 (the third field of each
// line of /proc/1/cgroup). On a host PID 1 sits in / or /init.scope.
func (p Prober) initCgroups() []string {
	b, err := p.read("proc/1/cgroup")
	if err != nil {
		return nil
	}
	var paths []string
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.SplitN(line, ":", 3)
		if len(f) == 3 && f[2] != "/" {
			paths = append(paths, f[2])
		}
	}
	return paths
}

// containerMounts returns, for the mounts a runtime makes for each
// container (the root and the bind-mounted /etc files), their root in the
// source filesystem, their source and their super options, where runtime
// directories such as /var/lib/docker show. Other mounts are ignored: on a
// host that runs containers, their filesystems show up in every
// process's mountinfo too.
func (p Prober) containerMounts() []string {
	b, err := p.read("proc/self/mountinfo")
	if err != nil {
		return nil
	}
	var out []string
	for _, line := range strings.Split(string(b), "\n") {
		// ID parent major:minor root mountpoint options [optional...] - fstype source superoptions
		pre, post, ok := strings.Cut(line, " - ")
		if !ok {
			continue
		}
		f, g := strings.Fields(pre), strings.Fields(post)
		if len(f) < 5 || len(g) < 2 {
			continue
		}
		switch f[4] {
		case "/", "/etc/hosts", "/etc/hostname", "/etc/resolv.conf":
			out = append(out, f[3]+" "+strings.Join(g[1:], " "))
		}
	}
	return out
}

// parseEnviron parses a NUL-separated environment block.
func parseEnviron(b []byte, err error) map[string]string {
	if err != nil {
		return nil
	}
	env := make(map[string]string)
	for _, kv := range bytes.Split(b, []byte{0}) {
		if k, v, ok := strings.Cut(string(kv), "="); ok && k != "" {
			env[k] = v
		}
	}
	return env
}

// tun opens /dev/net/tun read-write, as creating a TUN interface does.
func (p Prober) tun() (bool, string) {
	f, err := os.OpenFile(p.path("dev/net/tun"), os.O_RDWR, 0)
	if err != nil {
		var pe *fs.PathError
		if errors.As(err, &pe) {
			// Name the device, not the prober's root.
			return false, "open /dev/net/tun: " + pe.Err.Error()
		}
		return false, err.Error()
	}
	f.Close()
	return true, ""
}

// status returns the "Key:\tvalue" lines of /proc/self/status.
func (p Prober) status() map[string]string {
	b, err := p.read("proc/self/status")
	if err != nil {
		return nil
	}
	st := make(map[string]string)
	s := bufio.NewScanner(bytes.NewReader(b))
	for s.Scan() {
		if k, v, ok := strings.Cut(s.Text(), ":"); ok {
			st[k] = strings.TrimSpace(v)
		}
	}
	return st
}

// hasCap reports whether bit is set in a hexadecimal capability mask.
func hasCap(mask string, bit uint) bool {
	m, err := strconv.ParseUint(mask, 16, 64)
	return err == nil && m&(1<<bit) != 0
}

// effectiveUID takes the second of the real, effective, saved and
// filesystem UIDs on the Uid: line; -1 when it cannot.
func effectiveUID(uids string) int {
	f := strings.Fields(uids)
	if len(f) < 2 {
		return -1
	}
	n, err := strconv.Atoi(f[1])
	if err != nil || n < 0 {
		return -1
	}
	return n
}

// userNamespace reports whether /proc/self/uid_map is anything but the
// identity map of the whole UID range, which only the initial user
// namespace has.
func (p Prober) userNamespace() bool {
	b, err := p.read("proc/self/uid_map")
	if err != nil {
		return false
	}
	f := strings.Fields(string(b))
	return !(len(f) == 3 && f[0] == "0" && f[1] == "0" && f[2] == "4294967295")
}
