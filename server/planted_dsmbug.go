//go:build dsmbug

package server

import "strings"

// ackEarly is the planted bug planted.AckBeforeCommit: a SET is answered
// OK at once while its write goes on in the background.
func ackEarly(c *conn, entry [][]byte) bool {
	if len(entry) != 4 || !strings.EqualFold(string(entry[1]), "set") {
		return false
	}
	go c.s.cl.node.Write(c.s.live.ctx, entry)
	c.wr.Simple("OK")
	c.dirty = true
	return true
}
