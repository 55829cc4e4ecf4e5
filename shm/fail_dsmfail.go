//go:build dsmfail

package shm

import fp "github.com/dsm-dev/dsm/internal/failpoint"

// ArmFailpoint makes the process kill itself with SIGKILL at the hit-th
// pass (counting from 1) of the named failure point, of shm or of any
// package that uses internal/failpoint (the redo log). Only in dsmfail
// builds.
func ArmFailpoint(name string, hit int) { fp.Arm(name, hit) }

// SetFailHook runs fn at every pass of the named failure point, in the
// goroutine passing it, until the returned function removes it. Only in
// dsmfail builds.
func SetFailHook(name string, fn func()) (remove func()) { return fp.SetHook(name, fn) }

func failpoint(name string) { fp.Pass(name) }
