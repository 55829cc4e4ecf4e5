package server

import (
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/dsm-dev/dsm/internal/version"
)

// TestInfoMemoryRSS: INFO's used_memory_rss is the process's resident set
// (between the kernel's VmRSS read just before and just after), with the
// memory file's touched pages in it, not one of Go's own figures.
func TestInfoMemoryRSS(t *testing.T) {
	ts := startServer(t, Config{Vars: 60000})
	rc := dialRaw(t, ts.addr)
	// Touch about 40 MB of the file, so that the resident set and Go's
	// heap or reservation differ plainly.
	const n = 50000
	var batch strings.Builder
	for i := range n {
		batch.WriteString(encode("SET", "v"+strconv.Itoa(i), "x"))
		if (i+1)%1000 == 0 {
			rc.send(batch.String())
			batch.Reset()
			for range 1000 {
				if got := rc.reply(); got != okReply {
					t.Fatalf("SET: %q", got)
				}
			}
		}
	}
	before := procStatus(t, os.Getpid(), "VmRSS")
	info := rc.do("INFO", "memory")
	after := procStatus(t, os.Getpid(), "VmRSS")
	rss := uint64(infoField(t, info, "used_memory_rss"))
	if rss < before*9/10 || rss > after*11/10 {
		t.Fatalf("used_memory_rss = %d, VmRSS was %d before INFO and %d after", rss, before, after)
	}
	if sys := infoField(t, info, "dsm_go_sys"); sys <= 0 {
		t.Fatalf("dsm_go_sys = 0")
	}
}

// TestInfoServerVersion: INFO's server section reports the binary's build
// (version, commit, dirty flag, Go release) as internal/version reads it,
// beside the Redis fields that tools read.
func TestInfoServerVersion(t *testing.T) {
	ts := startServer(t, Config{})
	info := dialRaw(t, ts.addr).do("INFO", "server")
	v := version.Get()
	sha := v.Revision
	if sha == "" {
		sha = "00000000"
	}
	dirty := "0"
	if v.Modified {
		dirty = "1"
	}
	for name, want := range map[string]string{
		"redis_version": redisVersion, "redis_git_sha1": "00000000", "redis_git_dirty": "0",
		"dsm_version": v.Version, "dsm_git_sha1": sha, "dsm_git_dirty": dirty, "go_version": v.Go,
	} {
		if got := infoString(t, info, name); got != want {
			t.Errorf("INFO %s = %q, want %q", name, got, want)
		}
	}
}

// infoString is the value of INFO's field name.
func infoString(t *testing.T, info, name string) string {
	t.Helper()
	for line := range strings.Lines(info) {
		if v, ok := strings.CutPrefix(line, name+":"); ok {
			return strings.TrimSpace(v)
		}
	}
	t.Fatalf("INFO has no %s:\n%s", name, info)
	return ""
}
