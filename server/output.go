package server

import (
	"errors"
	"time"

	"github.com/dsm-dev/dsm/resp"
)

// keepOutput is the largest reply buffer kept between batches; a larger
// one (after a big reply) is dropped so that idle clients hold little. It
// and the command buffer resp keeps (8 KiB), times DefaultMaxClients, stay
// within DefaultClientMemMax: under the defaults idle clients are never
// evicted (TestIdleClientsFitTheBound). A pipelined batch's replies take a
// few KiB.
const keepOutput = 16 << 10

// output is the socket side of a connection's replies: the io.Writer
// under its resp.Writer (c.wr). That Writer's buffer is the connection's
// one reply buffer, for RESP and seed replies alike: replies are appended
// to it, bounded by Config.OutputLimit (beyond it the Writer fails with
// errOutputLimit, which ends the connection), and flush sends it in one
// write.
type output struct {
	c        *conn
	deadline time.Time // the write deadline last set on the socket
}

// Write sends p to the client within the write timeout.
func (o *output) Write(p []byte) (int, error) {
	c := o.c
	c.account() // the replies are held until the client takes them
	c.armWrite()
	n, err := c.nc.Write(p)
	c.s.stats.netOut.Add(int64(n))
	return n, err
}

// flush writes the pending replies to the client. Under SyncAlways, when
// the batch wrote, it first waits for a flush of the file that covers those
// writes; if that fails the replies are not sent and the connection ends,
// so no write is acknowledged that might not be durable.
func (c *conn) flush() error {
	c.countDone()
	if err := c.wr.Err(); err != nil {
		return c.outputFailed(err)
	}
	if c.wr.Buffered() == 0 {
		return nil
	}
	if err := c.s.storageErr(); err != nil {
		c.wr.Reset() // the file failed: acknowledge nothing more (storage.go)
		return err
	}
	if c.dirty && c.s.cfg.Sync == SyncAlways {
		if err := c.s.barrier(); err != nil {
			c.wr.Reset()
			return errSyncFailed
		}
	}
	c.dirty = false
	return c.wr.Flush()
}

// armWrite gives the next write WriteTimeout, give or take a sixteenth:
// the deadline is moved only when it has used up more than writeSlack of
// it, because moving it updates a runtime timer (a lock and a heap
// operation), which stood out in CPU profiles of dsmd when done for every
// reply.
func (c *conn) armWrite() {
	t := c.s.cfg.WriteTimeout
	if t <= 0 {
		return
	}
	d := time.Now().Add(t)
	if d.Sub(c.out.deadline) <= t/writeSlack {
		return
	}
	if c.nc.SetWriteDeadline(d) == nil {
		c.out.deadline = d
	}
}

// writeSlack: a write is given between (1 - 1/writeSlack) × WriteTimeout
// and WriteTimeout.
const writeSlack = 16

// outputFailed drops the pending replies of a client that exceeded its
// output limit, and names that reason errOutputLimit; the connection ends
// with the error it returns.
func (c *conn) outputFailed(err error) error {
	if errors.Is(err, resp.ErrReplyLimit) {
		c.wr.Reset()
		return errOutputLimit
	}
	return err
}
