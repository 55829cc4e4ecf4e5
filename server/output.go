package server

import (
	"errors"
	"time"
)

// keepOutput is the largest reply buffer kept between batches; a larger
// one (after a big reply) is dropped so that idle clients hold little.
const keepOutput = 64 << 10

// output collects the replies of one batch until the connection flushes
// them. It is the io.Writer under the connection's resp.Writer. Writing
// more than limit pending bytes fails with errOutputLimit, which ends the
// connection.
type output struct {
	buf      []byte
	limit    int
	deadline time.Time // the write deadline last set on the socket
}

func (o *output) Write(p []byte) (int, error) {
	if len(o.buf)+len(p) > o.limit {
		return 0, errOutputLimit
	}
	o.buf = append(o.buf, p...)
	return len(p), nil
}

func (o *output) reset() {
	if cap(o.buf) > keepOutput {
		o.buf = nil
		return
	}
	o.buf = o.buf[:0]
}

// flush writes the pending replies to the client. Under SyncAlways, when
// the batch wrote, it first waits for a flush of the file that covers those
// writes; if that fails the replies are not sent and the connection ends,
// so no write is acknowledged that might not be durable.
func (c *conn) flush() error {
	c.countDone()
	if c.wr != nil {
		if err := c.wr.Flush(); err != nil {
			return c.outputFailed(err)
		}
	}
	if len(c.out.buf) == 0 {
		return nil
	}
	if err := c.s.storageErr(); err != nil {
		c.out.reset() // the file failed: acknowledge nothing more (storage.go)
		return err
	}
	if c.dirty && c.s.cfg.Sync == SyncAlways {
		if err := c.s.barrier(); err != nil {
			c.out.reset()
			return errSyncFailed
		}
	}
	c.dirty = false
	return c.send()
}

// send writes c.out to the socket within the write timeout.
func (c *conn) send() error {
	c.armWrite()
	n, err := c.nc.Write(c.out.buf)
	c.s.stats.netOut.Add(int64(n))
	c.out.reset()
	return err
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
// output limit; the connection ends with err.
func (c *conn) outputFailed(err error) error {
	if errors.Is(err, errOutputLimit) {
		c.out.reset()
	}
	return err
}
