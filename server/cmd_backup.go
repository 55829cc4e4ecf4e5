package server

import (
	"bytes"
	"context"
	"errors"
	"time"

	"github.com/dsm-dev/dsm/cluster"
	"github.com/dsm-dev/dsm/shm"
)

// cmdBackup answers BACKUP with a consistent copy of every variable (shm's
// Image: every variable at one instant, readers and writers of every
// process held back meanwhile) in the backup format (cluster.WriteImage),
// which dsm restore puts back: [pause in microseconds, variables, copy].
// The pause is how long the copy held the file, waiting for its locks
// included. The reply is exempt from Config.OutputLimit: the copy is as
// large as the file's variables.
func cmdBackup(c *conn, args [][]byte) {
	ctx, done := c.waitContext(0)
	start := time.Now()
	img, err := c.s.mem.Image(ctx)
	pause := time.Since(start)
	done()
	switch {
	case errors.Is(err, shm.ErrClosed), errors.Is(err, context.Canceled):
		c.fail(msgClosing)
		return
	case err != nil:
		c.fail("ERR backup: " + err.Error())
		return
	}
	var b bytes.Buffer
	if err := cluster.WriteImage(&b, img); err != nil {
		c.fail("ERR backup: " + err.Error())
		return
	}
	c.s.log.Info("backup taken", "addr", c.remote, "vars", len(img.Vars), "bytes", b.Len(), "pause", pause.Round(time.Microsecond).String())
	c.wr.SetLimit(0)
	c.wr.Array(3)
	c.wr.Int(pause.Microseconds())
	c.wr.Int(int64(len(img.Vars)))
	c.wr.Bulk(b.Bytes())
	c.flush()
	c.wr.SetLimit(c.s.cfg.OutputLimit)
}
