package server

import (
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// monitors are the connections in MONITOR mode. Each gets a line per
// command that any client's connection runs (after it ran, as Redis
// does): the time, the database and the client's address, and the
// arguments quoted, with AUTH's and HELLO AUTH's secrets redacted.
// Administrative commands (the table's admin flag: CONFIG, CLIENT LIST
// and KILL, SLOWLOG, MONITOR) are left out, as in Redis, and so are
// commands refused before they ran. A transaction's commands show as EXEC
// runs them, before the EXEC. The lines travel through the connection's
// pusher (pubsub.go), bounded by Config.OutputLimit like messages.
//
// While nobody monitors, a command pays one atomic load for it.
type monitors struct {
	n  atomic.Int32 // len(subs)
	mu sync.Mutex   // guards subs
	// subs are the monitoring connections' pushers.
	subs map[*subscriber]bool
}

// feed sends c's command to every monitor.
func (m *monitors) feed(c *conn, cmd *command, args [][]byte) {
	if m.n.Load() == 0 || cmd.flags&flagAdmin != 0 || c.applying {
		return
	}
	line := monitorLine(time.Now(), c.remote, redacted(cmd, args))
	m.mu.Lock()
	defer m.mu.Unlock()
	for sub := range m.subs {
		sub.enqueue(pushMsg{payload: line}, false)
	}
}

func (m *monitors) add(sub *subscriber) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.subs == nil {
		m.subs = map[*subscriber]bool{}
	}
	m.subs[sub] = true
	m.n.Store(int32(len(m.subs)))
}

func (m *monitors) remove(sub *subscriber) {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.subs, sub)
	m.n.Store(int32(len(m.subs)))
}

// monitorLine formats a command as Redis' MONITOR does:
// 1700000000.123456 [0 127.0.0.1:5000] "set" "a" "1".
func monitorLine(at time.Time, addr string, args [][]byte) string {
	b := strconv.AppendInt(nil, at.Unix(), 10)
	b = append(b, '.')
	us := strconv.Itoa(at.Nanosecond() / 1000)
	for range 6 - len(us) {
		b = append(b, '0')
	}
	b = append(b, us...)
	b = append(b, " [0 "...)
	b = append(b, addr...)
	b = append(b, ']')
	for _, a := range args {
		b = append(b, ' ')
		b = appendRepr(b, a)
	}
	return string(b)
}

// appendRepr quotes a as Redis does (sdscatrepr): backslash escapes for
// the quote, the backslash and \n \r \t \a \b, \xHH for other bytes that
// are not printable ASCII.
func appendRepr(b, a []byte) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	for _, ch := range a {
		switch ch {
		case '\\', '"':
			b = append(b, '\\', ch)
		case '\n':
			b = append(b, `\n`...)
		case '\r':
			b = append(b, `\r`...)
		case '\t':
			b = append(b, `\t`...)
		case '\a':
			b = append(b, `\a`...)
		case '\b':
			b = append(b, `\b`...)
		default:
			if ch < ' ' || ch > '~' {
				b = append(b, '\\', 'x', hex[ch>>4], hex[ch&15])
			} else {
				b = append(b, ch)
			}
		}
	}
	return append(b, '"')
}

// cmdMonitor puts the connection in MONITOR mode: OK, then a line per
// command until it closes. Its own commands still run and are answered.
func cmdMonitor(c *conn, args [][]byte) {
	if c.monitoring {
		c.wr.Simple("OK")
		return
	}
	sub, err := c.subscriber()
	if err != nil {
		c.fail(msgClosing)
		return
	}
	// OK goes out before the first line.
	sub.pause()
	sub.monitor = true
	c.monitoring = true
	c.s.monitors.add(sub)
	c.wr.Simple("OK")
	c.flush()
	sub.resume(c.wr.Protocol() == 3)
}

// endMonitor leaves MONITOR mode when the connection ends.
func (c *conn) endMonitor() {
	if c.monitoring {
		c.s.monitors.remove(c.live.sub)
		c.monitoring = false
	}
}
