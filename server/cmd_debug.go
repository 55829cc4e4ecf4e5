package server

import "github.com/dsm-dev/dsm/cluster"

// debugCommand is DEBUG, which has one subcommand here: DIGEST, as in
// Redis, the digest of the node's variables (cluster.Digest). It reads the
// node's own state, never through the leader: comparing the nodes'
// digests is how a replica that diverged is found.
func debugCommand() *command {
	return container(
		&command{name: "debug", arity: -2, category: "server", since: "1.0.0", summary: "Debugging aids."},
		&command{name: "digest", arity: 2, flags: flagAdmin, since: "1.0.0", summary: "Returns a digest of every variable's name, value and version on this node (40 hex digits).", run: cmdDebugDigest},
		&command{name: "help", arity: 2, since: "1.0.0", summary: "Lists the DEBUG subcommands.", run: cmdHelp},
	)
}

func cmdDebugDigest(c *conn, args [][]byte) {
	d, err := cluster.Digest(c.s.mem)
	if err != nil {
		c.fail("ERR digest: " + err.Error())
		return
	}
	c.wr.BulkString(d)
}
