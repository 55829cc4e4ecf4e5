//go:build !dsmfail

package shm

// failpoint does nothing in a normal build; see fail.go.
func failpoint(string) {}
