package server

import (
	"math"
	"strings"

	"github.com/dsm-dev/dsm/shm"
)

// cmdMemoryUsage: MEMORY USAGE key [SAMPLES count] answers the bytes a
// variable takes: every variable has a slot of the same size in the file
// (its share of the file: the file's size over its capacity), whatever its
// value; null for a missing one. SAMPLES is checked as Redis checks it and
// otherwise ignored: there is nothing to sample.
func cmdMemoryUsage(c *conn, v varStore, args [][]byte) {
	for i := 3; i < len(args); i++ {
		if !strings.EqualFold(string(args[i]), "samples") || i+1 >= len(args) {
			c.fail(msgSyntax)
			return
		}
		i++
		n, ok := shm.ParseInt(args[i])
		switch {
		case !ok:
			c.fail(msgNotInteger)
			return
		case n < 0:
			c.fail(msgSyntax)
			return
		}
	}
	ok, err := v.Exists(args[2])
	switch {
	case err != nil:
		c.varError(err)
	case !ok:
		c.wr.Null()
	default:
		lim := c.s.mem.Limits()
		c.wr.Int(int64(math.Ceil(float64(lim.FileSize) / float64(lim.Capacity))))
	}
}

func memoryCommand() *command {
	return container(
		&command{name: "memory", arity: -2, category: "server", since: "4.0.0", summary: "Reports the memory variables take."},
		&command{name: "usage", arity: -3, flags: flagReadonly | flagMulti, keys: [3]int{2, 2, 1}, since: "4.0.0", summary: "Returns the bytes a variable takes in the file (its slot), or null if missing.", args: []arg{argKey("key"), argInt("count").tok("SAMPLES").opt()}, vars: cmdMemoryUsage},
		&command{name: "help", arity: 2, since: "4.0.0", summary: "Lists the MEMORY subcommands.", run: cmdHelp},
	)
}
