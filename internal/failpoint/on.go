//go:build dsmfail

package failpoint

import (
	"maps"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"golang.org/x/sys/unix"
)

// failState is the process's armed failure point and hooks. It is
// package-level on purpose: a failure point stands for "this process dies
// here", which is a property of the process, and it exists only in the
// dsmfail build.
var failState struct {
	armed atomic.Pointer[armedPoint]
	mu    sync.Mutex // serialises SetHook
	hooks atomic.Pointer[map[string]func()]
}

type armedPoint struct {
	name string
	hit  int64
	seen atomic.Int64
}

func init() {
	if v := os.Getenv("DSM_FAILPOINT"); v != "" {
		name, n, _ := strings.Cut(v, "@")
		hit, err := strconv.ParseInt(n, 10, 64)
		if err != nil || hit < 1 {
			hit = 1
		}
		Arm(name, int(hit))
	}
}

// Arm makes the process kill itself with SIGKILL at the hit-th
// pass (counting from 1) of the named failure point. Only in dsmfail builds.
func Arm(name string, hit int) {
	failState.armed.Store(&armedPoint{name: name, hit: int64(hit)})
}

// SetHook runs fn at every pass of the named failure point, in the
// goroutine passing it, until the returned function removes it. Only in
// dsmfail builds.
func SetHook(name string, fn func()) (remove func()) {
	swap := func(edit func(map[string]func())) {
		failState.mu.Lock()
		defer failState.mu.Unlock()
		next := map[string]func(){}
		if cur := failState.hooks.Load(); cur != nil {
			next = maps.Clone(*cur)
		}
		edit(next)
		failState.hooks.Store(&next)
	}
	swap(func(m map[string]func()) { m[name] = fn })
	return func() { swap(func(m map[string]func()) { delete(m, name) }) }
}

// Pass passes the named failure point: it runs its hook, and kills the
// process if this is the armed pass.
func Pass(name string) {
	if hooks := failState.hooks.Load(); hooks != nil {
		if fn := (*hooks)[name]; fn != nil {
			fn()
		}
	}
	a := failState.armed.Load()
	if a == nil || a.name != name || a.seen.Add(1) != a.hit {
		return
	}
	unix.Kill(unix.Getpid(), unix.SIGKILL)
	select {} // the signal is on its way
}
