package server

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"

	"github.com/dsm-dev/dsm/shm"
)

// seedVar is the one variable the seed protocol reads and writes.
var seedVar = []byte("value")

// seedOK is the seed's answer to a write.
var seedOK = []byte("OK")

// errSeedByte ends a seed connection that sent a byte that is not a request.
var errSeedByte = errors.New("seed protocol: unexpected byte")

// serveSeed speaks the seed's protocol: 'R' is answered with the 4-byte
// little-endian int32 of `value`; 'W' followed by 4 bytes stores that int32
// and is answered "OK". Whitespace between requests is ignored (so that a
// person can type into nc); any other byte ends the connection.
func (c *conn) serveSeed() error {
	c.proto = "seed"
	if why := c.seedRefusal(); why != "" {
		c.s.hangUp(c.raw, why, c.proto)
		return errDenied
	}
	br := bufio.NewReaderSize(&c.in, 512)
	for {
		op, err := br.ReadByte()
		if err != nil {
			return err
		}
		if err := c.seedRequest(br, op); err != nil {
			return err
		}
		c.in.requestDone(br.Buffered() > 0)
	}
}

// seedRequest executes one request and stages its reply.
func (c *conn) seedRequest(br *bufio.Reader, op byte) error {
	switch op {
	case 'R':
		return c.seedRead()
	case 'W':
		var p [4]byte
		if _, err := io.ReadFull(br, p[:]); err != nil {
			return err
		}
		return c.seedWrite(int32(binary.LittleEndian.Uint32(p[:])))
	case ' ', '\t', '\r', '\n':
		return nil
	}
	return fmt.Errorf("%w 0x%02x", errSeedByte, op)
}

// seedRead stages `value` as 4 bytes. A missing variable reads as 0, as the
// seed's memory started at 0; so does one that is not an integer, since
// the protocol has no way to say otherwise. An integer is truncated to its
// low 32 bits.
func (c *conn) seedRead() error {
	c.count(c.s.cmds.seedRead)
	if cl := c.s.cl; cl != nil {
		if err := cl.node.ReadBarrier(c.s.live.ctx); err != nil {
			return fmt.Errorf("seed read: %w", err)
		}
	}
	v, _, err := c.s.mem.Get(seedVar)
	if err != nil && !errors.Is(err, shm.ErrNotFound) {
		return err
	}
	c.s.stats.hit(err == nil)
	n, _ := v.Int()
	var reply [4]byte
	binary.LittleEndian.PutUint32(reply[:], uint32(n))
	c.wr.Raw(reply[:])
	return nil
}

// seedWrite stores n in `value` as an integer and stages "OK".
func (c *conn) seedWrite(n int32) error {
	c.count(c.s.cmds.seedWrite)
	c.dirty = true
	if c.s.cl != nil {
		if err := c.seedWriteReplicated(n); err != nil {
			return err
		}
		c.wr.Raw(seedOK)
		return nil
	}
	if _, err := c.s.mem.Set(seedVar, shm.Int(int64(n))); err != nil {
		return err
	}
	c.wr.Raw(seedOK)
	return nil
}
