package version

import (
	"runtime/debug"
	"strings"
	"testing"
)

func TestResolve(t *testing.T) {
	vcs := &debug.BuildInfo{
		GoVersion: "go1.26.0",
		Main:      debug.Module{Path: "github.com/wgfleet/wgfleet", Version: "v0.0.0-20261129185820-1aedf8b0c0de+dirty"},
		Settings: []debug.BuildSetting{
			{Key: "vcs.revision", Value: "1aedf8b0c0de1aedf8b0c0de1aedf8b0c0de1aed"},
			{Key: "vcs.time", Value: "2026-11-29T18:58:20Z"},
			{Key: "vcs.modified", Value: "true"},
		},
	}
	tests := []struct {
		name          string
		bi            *debug.BuildInfo
		ldV, ldC, ldD string
		want          Info
	}{
		{
			name: "no build information",
			want: Info{Version: Devel, Commit: Unknown, Date: Unknown},
		},
		{
			name: "source tree without vcs",
			bi:   &debug.BuildInfo{GoVersion: "go1.26.0", Main: debug.Module{Version: "(devel)"}},
			want: Info{Version: Devel, Commit: Unknown, Date: Unknown, Go: "go1.26.0"},
		},
		{
			name: "build information of a modified checkout",
			bi:   vcs,
			want: Info{Version: "0.0.0-20261129185820-1aedf8b0c0de", Commit: "1aedf8b0c0de1aedf8b0c0de1aedf8b0c0de1aed",
				Date: "2026-11-29T18:58:20Z", Modified: true, Go: "go1.26.0"},
		},
		{
			name: "tagged release",
			bi:   &debug.BuildInfo{GoVersion: "go1.26.0", Main: debug.Module{Version: "v1.4.2"}},
			want: Info{Version: "1.4.2", Commit: Unknown, Date: Unknown, Go: "go1.26.0"},
		},
		{
			name: "ldflags win over build information",
			bi:   vcs,
			ldV:  "v2.0.0", ldC: "abc123", ldD: "2026-12-01T00:00:00Z",
			want: Info{Version: "2.0.0", Commit: "abc123", Date: "2026-12-01T00:00:00Z", Modified: true, Go: "go1.26.0"},
		},
		{
			name: "ldflags version alone",
			ldV:  "1.0.0",
			want: Info{Version: "1.0.0", Commit: Unknown, Date: Unknown},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := resolve(tt.bi, tt.ldV, tt.ldC, tt.ldD)
			if tt.want.Go == "" {
				tt.want.Go = got.Go // the running toolchain's
				if got.Go == "" {
					t.Errorf("Go is empty")
				}
			}
			if got != tt.want {
				t.Errorf("resolve = %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestDescribe(t *testing.T) {
	i := Info{Version: "1.4.2", Commit: "abc123", Date: "2026-11-29T18:58:20Z", Modified: true, Go: "go1.26.0"}
	want := "wg-agent 1.4.2\ncommit: abc123 (modified)\ndate:   2026-11-29T18:58:20Z\ngo:     go1.26.0"
	if got := i.Describe("wg-agent"); got != want {
		t.Errorf("Describe = %q, want %q", got, want)
	}
	i.Modified = false
	if got := i.Describe("x"); strings.Contains(got, "modified") {
		t.Errorf("Describe of an unmodified build = %q, says modified", got)
	}
}
