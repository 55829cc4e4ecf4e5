//go:build dsmfail

package shm

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
	mu    sync.Mutex // serialises SetFailHook
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
		ArmFailpoint(name, int(hit))
	}
}

// ArmFailpoint makes the process kill itself with SIGKILL at the hit-th
// pass (counting from 1) of the named failure point. Only in dsmfail builds.
func ArmFailpoint(name string, hit int) {
	failState.armed.Store(&armedPoint{name: name, hit: int64(hit)})
}

// SetFailHook runs fn at every pass of the named failure point, in the
// goroutine passing it, until the returned function removes it. Only in
// dsmfail builds.
func SetFailHook(name string, fn func()) (remove func()) {
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

func failpoint(name string) {
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
