//go:build dsmbug

package planted

import "os"

// active is the bug DSM_BUG names, read once at start: like a failure
// point, a planted bug is a property of the process.
var active = os.Getenv(Env)

// On reports whether the named bug is switched on.
func On(name string) bool { return name == active }
