// Package version reads what the Go toolchain recorded about the build of
// the running binary (runtime/debug.ReadBuildInfo): the module version, the
// commit and whether the work tree had changes. dsmd, dsm and the server's
// INFO report the same values through it.
package version

import (
	"fmt"
	"runtime"
	"runtime/debug"
)

// Info is what a binary knows about its own build.
type Info struct {
	Version  string // module version: "v1.2.3", or "(devel)" when built from a checkout
	Revision string // vcs.revision, the commit; "" when the build did not record one
	Modified bool   // vcs.modified: the work tree had uncommitted changes
	Go       string // the Go release that built the binary
}

// Get returns the running binary's build information. Fields the build
// did not record stay at their zero values, except Version ("(devel)")
// and Go (runtime.Version()).
func Get() Info {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return Info{Version: "(devel)", Go: runtime.Version()}
	}
	return fromBuildInfo(bi)
}

func fromBuildInfo(bi *debug.BuildInfo) Info {
	in := Info{Version: bi.Main.Version, Go: bi.GoVersion}
	if in.Version == "" {
		in.Version = "(devel)"
	}
	if in.Go == "" {
		in.Go = runtime.Version()
	}
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			in.Revision = s.Value
		case "vcs.modified":
			in.Modified = s.Value == "true"
		}
	}
	return in
}

// Line is the line --version prints for the command named cmd (none when
// cmd is empty), e.g. "dsmd v0.2.0 commit 0b23b48d… (modified) go1.26.8".
func (in Info) Line(cmd string) string {
	s := in.Version
	if cmd != "" {
		s = cmd + " " + s
	}
	rev := in.Revision
	if rev == "" {
		rev = "unknown"
	}
	s += " commit " + rev
	if in.Modified {
		s += " (modified)"
	}
	return fmt.Sprintf("%s %s", s, in.Go)
}
