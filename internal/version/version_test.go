package version

import (
	"runtime/debug"
	"strings"
	"testing"
)

// TestFromBuildInfo: the module version, the commit, the dirty flag and the
// Go release come from the build information, with "(devel)" and
// "unknown" where the build recorded nothing.
func TestFromBuildInfo(t *testing.T) {
	for _, tt := range []struct {
		name string
		bi   debug.BuildInfo
		want Info
		line string
	}{
		{"release", debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "v1.2.3"},
			Settings: []debug.BuildSetting{{Key: "vcs.revision", Value: "abc123"}, {Key: "vcs.modified", Value: "false"}}},
			Info{"v1.2.3", "abc123", false, "go1.26.8"}, "dsmd v1.2.3 commit abc123 go1.26.8"},
		{"dirty checkout", debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "(devel)"},
			Settings: []debug.BuildSetting{{Key: "vcs.revision", Value: "abc123"}, {Key: "vcs.modified", Value: "true"}}},
			Info{"(devel)", "abc123", true, "go1.26.8"}, "dsmd (devel) commit abc123 (modified) go1.26.8"},
		{"nothing recorded", debug.BuildInfo{GoVersion: "go1.26.8"},
			Info{"(devel)", "", false, "go1.26.8"}, "dsmd (devel) commit unknown go1.26.8"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got := fromBuildInfo(&tt.bi)
			if got != tt.want {
				t.Errorf("fromBuildInfo = %+v, want %+v", got, tt.want)
			}
			if l := got.Line("dsmd"); l != tt.line {
				t.Errorf("Line = %q, want %q", l, tt.line)
			}
		})
	}
}

// TestGet: the test binary has build information, so Get reports its Go
// release.
func TestGet(t *testing.T) {
	in := Get()
	if !strings.HasPrefix(in.Go, "go") || in.Version == "" {
		t.Fatalf("Get() = %+v", in)
	}
}
