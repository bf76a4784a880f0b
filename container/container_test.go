package container

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/wgfleet/wgfleet/internal/testenv"
)

// /proc contents of a plain host.
const (
	hostCgroupV2   = "0::/init.scope\n"
	hostMountinfo  = "27 1 254:0 / / rw,relatime - ext4 /dev/vda1 rw\n22 27 0:21 / /proc rw - proc proc rw\n"
	initialUIDMap  = "         0          0 4294967295\n"
	statusRoot     = "Name:\twg-agent\nUid:\t0\t0\t0\t0\nCapEff:\t000001ffffffffff\n"
	statusUser     = "Name:\twg-agent\nUid:\t1000\t1000\t1000\t1000\nCapEff:\t0000000000000000\n"
	statusOnlyNetA = "Uid:\t1000\t1000\t1000\t1000\nCapEff:\t0000000000001000\n"
)

// tree writes files (path relative to the root -> content) into a fresh
// directory and returns it.
func tree(t *testing.T, files map[string]string) string {
	t.Helper()
	root := t.TempDir()
	for name, content := range files {
		p := filepath.Join(root, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

// with returns a copy of base with the overrides applied; a "" value
// deletes the file.
func with(base map[string]string, overrides map[string]string) map[string]string {
	m := make(map[string]string, len(base)+len(overrides))
	for k, v := range base {
		m[k] = v
	}
	for k, v := range overrides {
		if v == "" {
			delete(m, k)
		} else {
			m[k] = v
		}
	}
	return m
}

func environ(kv ...string) string { return strings.Join(kv, "\x00") + "\x00" }

// hostFiles is a plain host as seen by root. An empty regular file stands
// in for the TUN device node (a space, since with deletes on "").
func hostFiles() map[string]string {
	return map[string]string{
		"proc/1/cgroup":       hostCgroupV2,
		"proc/1/environ":      environ("HOME=/", "TERM=linux"),
		"proc/self/environ":   environ("PATH=/usr/bin", "HOME=/root"),
		"proc/self/mountinfo": hostMountinfo,
		"proc/self/uid_map":   initialUIDMap,
		"proc/self/status":    statusRoot,
		"dev/net/tun":         " ",
	}
}

func TestDetect(t *testing.T) {
	host := hostFiles()
	tests := []struct {
		name  string
		files map[string]string
		want  Environment
	}{
		{
			name:  "bare host as root",
			files: host,
			want:  Environment{TUNAvailable: true, CapNetAdmin: true, EUID: 0},
		},
		{
			name:  "host as a user without the tun device",
			files: with(host, map[string]string{"proc/self/status": statusUser, "dev/net/tun": ""}),
			want:  Environment{TUNError: "open /dev/net/tun: no such file or directory", EUID: 1000},
		},
		{
			name:  "only CAP_NET_ADMIN",
			files: with(host, map[string]string{"proc/self/status": statusOnlyNetA}),
			want:  Environment{TUNAvailable: true, CapNetAdmin: true, EUID: 1000},
		},
		{
			name:  "docker marker",
			files: with(host, map[string]string{".dockerenv": " "}),
			want:  Environment{Container: true, Runtime: RuntimeDocker, TUNAvailable: true, CapNetAdmin: true},
		},
		{
			name:  "podman marker wins over docker marker",
			files: with(host, map[string]string{".dockerenv": " ", "run/.containerenv": "engine=\"podman-4.9\"\n"}),
			want:  Environment{Container: true, Runtime: RuntimePodman, TUNAvailable: true, CapNetAdmin: true},
		},
		{
			name:  "container= in init's environment",
			files: with(host, map[string]string{"proc/1/environ": environ("container=systemd-nspawn")}),
			want:  Environment{Container: true, Runtime: RuntimeSystemdNspawn, TUNAvailable: true, CapNetAdmin: true},
		},
		{
			name:  "container=lxc in our own environment",
			files: with(host, map[string]string{"proc/1/environ": "", "proc/self/environ": environ("container=lxc")}),
			want:  Environment{Container: true, Runtime: RuntimeLXC, TUNAvailable: true, CapNetAdmin: true},
		},
		{
			name:  "unknown container= value",
			files: with(host, map[string]string{"proc/1/environ": environ("container=oci")}),
			want:  Environment{Container: true, TUNAvailable: true, CapNetAdmin: true},
		},
		{
			name:  "/run/systemd/container",
			files: with(host, map[string]string{"run/systemd/container": "podman\n"}),
			want:  Environment{Container: true, Runtime: RuntimePodman, TUNAvailable: true, CapNetAdmin: true},
		},
		{
			name: "kubernetes environment wins over docker marker",
			files: with(host, map[string]string{
				".dockerenv":        " ",
				"proc/self/environ": environ("KUBERNETES_SERVICE_HOST=10.96.0.1", "KUBERNETES_SERVICE_PORT=443"),
			}),
			want: Environment{Container: true, Runtime: RuntimeKubernetes, TUNAvailable: true, CapNetAdmin: true},
		},
		{
			name:  "docker cgroup v1",
			files: with(host, map[string]string{"proc/1/cgroup": "12:memory:/docker/3f2a9c\n1:name=systemd:/docker/3f2a9c\n"}),
			want:  Environment{Container: true, Runtime: RuntimeDocker, TUNAvailable: true, CapNetAdmin: true},
		},
		{
			name:  "kubepods cgroup",
			files: with(host, map[string]string{"proc/1/cgroup": "0::/kubepods.slice/kubepods-besteffort.slice/cri-containerd-ab12.scope\n"}),
			want:  Environment{Container: true, Runtime: RuntimeKubernetes, TUNAvailable: true, CapNetAdmin: true},
		},
		{
			name:  "podman cgroup",
			files: with(host, map[string]string{"proc/1/cgroup": "0::/machine.slice/libpod-9d8e.scope/container\n"}),
			want:  Environment{Container: true, Runtime: RuntimePodman, TUNAvailable: true, CapNetAdmin: true},
		},
		{
			name:  "lxc cgroup",
			files: with(host, map[string]string{"proc/1/cgroup": "0::/lxc.payload.web1/init.scope\n"}),
			want:  Environment{Container: true, Runtime: RuntimeLXC, TUNAvailable: true, CapNetAdmin: true},
		},
		{
			name: "docker with a private cgroup namespace, seen in mountinfo",
			files: with(host, map[string]string{
				"proc/1/cgroup": "0::/\n",
				"proc/self/mountinfo": "600 500 0:50 / / rw - overlay overlay rw,lowerdir=/var/lib/docker/overlay2/l/ABC,upperdir=/var/lib/docker/overlay2/123/diff\n" +
					"610 600 254:1 /var/lib/docker/containers/123/hostname /etc/hostname rw - ext4 /dev/vda1 rw\n",
			}),
			want: Environment{Container: true, Runtime: RuntimeDocker, TUNAvailable: true, CapNetAdmin: true},
		},
		{
			name: "containerd under kubernetes, seen in mountinfo",
			files: with(host, map[string]string{
				"proc/self/mountinfo": "700 600 0:60 / / rw - overlay overlay rw,upperdir=/var/lib/containerd/io.containerd.snapshotter.v1.overlayfs/snapshots/9/fs\n" +
					"701 700 254:1 /var/lib/kubelet/pods/uid/etc-hosts /etc/hosts rw - ext4 /dev/vda1 rw\n",
			}),
			want: Environment{Container: true, Runtime: RuntimeKubernetes, TUNAvailable: true, CapNetAdmin: true},
		},
		{
			name: "containerd alone, seen in mountinfo",
			files: with(host, map[string]string{
				"proc/self/mountinfo": "700 600 0:60 / / rw - overlay overlay rw,upperdir=/var/lib/containerd/io.containerd.snapshotter.v1.overlayfs/snapshots/9/fs\n",
			}),
			want: Environment{Container: true, Runtime: RuntimeContainerd, TUNAvailable: true, CapNetAdmin: true},
		},
		{
			name: "a host running docker containers is not a container",
			files: with(host, map[string]string{
				"proc/self/mountinfo": hostMountinfo +
					"900 27 0:70 / /var/lib/docker/overlay2/123/merged rw - overlay overlay rw,upperdir=/var/lib/docker/overlay2/123/diff\n" +
					"901 27 0:4 net:[4026532200] /run/docker/netns/abc rw - nsfs nsfs rw\n",
			}),
			want: Environment{TUNAvailable: true, CapNetAdmin: true},
		},
		{
			name:  "rootless: user namespace",
			files: with(host, map[string]string{"run/.containerenv": " ", "proc/self/uid_map": "         0       1000          1\n         1     100000      65536\n"}),
			want:  Environment{Container: true, Runtime: RuntimePodman, TUNAvailable: true, CapNetAdmin: true, UserNamespace: true},
		},
		{
			name:  "garbled and missing /proc files",
			files: map[string]string{"proc/self/status": "CapEff:\tzz\nUid:\tx\n", "proc/1/cgroup": "garbage", "proc/self/mountinfo": "nonsense - \n"},
			want:  Environment{TUNError: "open /dev/net/tun: no such file or directory", EUID: -1},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Prober{Root: tree(t, tt.files)}.Detect()
			if got != tt.want {
				t.Errorf("Detect() =\n%+v\nwant\n%+v", got, tt.want)
			}
		})
	}
}

func TestChoose(t *testing.T) {
	ready := Environment{TUNAvailable: true, CapNetAdmin: true}
	noCap := Environment{TUNAvailable: true}
	noTUN := Environment{CapNetAdmin: true, TUNError: "open /dev/net/tun: no such file or directory"}
	dockerNothing := Environment{Container: true, Runtime: RuntimeDocker, TUNError: "open /dev/net/tun: permission denied"}

	tests := []struct {
		name       string
		env        Environment
		requested  Mode
		wantMode   Mode
		wantErr    error
		wantReason []string // substrings of Reason, or of the error
	}{
		{"auto with everything", ready, "auto", ModeTUN, nil, []string{"TUN", "CAP_NET_ADMIN"}},
		{"empty means auto", ready, "", ModeTUN, nil, nil},
		{"auto without the cap", noCap, "auto", ModeNetstack, nil, []string{"lacks CAP_NET_ADMIN"}},
		{"auto without the device", noTUN, "auto", ModeNetstack, nil, []string{"/dev/net/tun cannot be opened", "no such file"}},
		{"auto in a bare docker container", dockerNothing, "", ModeNetstack, nil, []string{"/dev/net/tun cannot be opened", "lacks CAP_NET_ADMIN", "--cap-add NET_ADMIN and --device /dev/net/tun"}},
		{"auto in docker without the cap", Environment{Container: true, Runtime: RuntimeDocker, TUNAvailable: true}, "", ModeNetstack, nil, []string{"grant --cap-add NET_ADMIN for"}},
		{"tun when possible", ready, "tun", ModeTUN, nil, []string{"as configured"}},
		{"tun without the cap", noCap, "tun", "", ErrTUNUnavailable, []string{"lacks CAP_NET_ADMIN"}},
		{"tun without the device", noTUN, "tun", "", ErrTUNUnavailable, []string{"no such file"}},
		{"tun in kubernetes", Environment{Container: true, Runtime: RuntimeKubernetes}, "tun", "", ErrTUNUnavailable, []string{"securityContext", "/dev/net/tun device"}},
		{"tun in an unknown container", Environment{Container: true}, "tun", "", ErrTUNUnavailable, []string{"running in a container"}},
		{"netstack always", ready, "netstack", ModeNetstack, nil, []string{"as configured"}},
		{"netstack with nothing", Environment{}, "netstack", ModeNetstack, nil, nil},
		{"unknown mode", ready, "kernel", "", ErrUnknownMode, []string{`"kernel"`}},
		{"case matters", ready, "TUN", "", ErrUnknownMode, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.env.Choose(tt.requested)
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("Choose(%q) error = %v, want %v", tt.requested, err, tt.wantErr)
				}
				for _, s := range tt.wantReason {
					if !strings.Contains(err.Error(), s) {
						t.Errorf("error %q does not mention %q", err, s)
					}
				}
				return
			}
			if err != nil {
				t.Fatalf("Choose(%q): %v", tt.requested, err)
			}
			if got.Mode != tt.wantMode {
				t.Errorf("Mode = %q, want %q (reason: %s)", got.Mode, tt.wantMode, got.Reason)
			}
			if !strings.HasSuffix(got.Reason, ".") || strings.Count(got.Reason, ". ") > 0 {
				t.Errorf("Reason %q is not one sentence", got.Reason)
			}
			for _, s := range tt.wantReason {
				if !strings.Contains(got.Reason, s) {
					t.Errorf("Reason %q does not mention %q", got.Reason, s)
				}
			}
		})
	}
}

// TestDetectThisMachine checks the real system. As root with /dev/net/tun
// (as on the project's test machines) TUN mode must be chosen.
func TestDetectThisMachine(t *testing.T) {
	e := Detect()
	t.Logf("environment: %+v", e)
	if e.EUID != os.Geteuid() {
		t.Errorf("EUID = %d, want %d", e.EUID, os.Geteuid())
	}
	if e.TUNAvailable == (e.TUNError != "") {
		t.Errorf("TUNAvailable %v but TUNError %q", e.TUNAvailable, e.TUNError)
	}
	testenv.RequireRoot(t)
	if f, err := os.OpenFile("/dev/net/tun", os.O_RDWR, 0); err != nil {
		testenv.RequireTUN(t)
	} else {
		f.Close()
	}
	if !e.TUNAvailable || !e.CapNetAdmin {
		t.Fatalf("as root with /dev/net/tun: TUNAvailable %v, CapNetAdmin %v", e.TUNAvailable, e.CapNetAdmin)
	}
	c, err := e.Choose(ModeAuto)
	if err != nil || c.Mode != ModeTUN {
		t.Fatalf("Choose(auto) = %+v, %v; want tun", c, err)
	}
	t.Logf("choice: %s", c.Reason)
}

func TestProberRootDefault(t *testing.T) {
	if got, want := (Prober{}).path("proc/self/status"), "/proc/self/status"; got != want {
		t.Errorf("path = %q, want %q", got, want)
	}
}
