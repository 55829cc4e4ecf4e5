// Package failpoint is the machinery of the failure points of shm and of
// the redo log: the places where a crash could hurt. In a normal build
// Pass is an empty function that the compiler removes, so a point costs
// nothing. A build with the dsmfail tag makes them real: a process may be
// told to kill itself with SIGKILL at the n-th pass of a point (Arm, or
// DSM_FAILPOINT=name[@n] in its environment), and a test may run a hook
// there (SetHook). Each package names its own points; shm re-exports Arm
// and SetHook as ArmFailpoint and SetFailHook.
package failpoint
