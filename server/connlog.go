package server

import (
	"fmt"
	"log/slog"
	"sync"
	"time"
)

// Defaults of connLog: the first connLogBurst connections of each
// connLogWindow are logged one by one, the rest counted in one line.
const (
	connLogBurst  = 100
	connLogWindow = 10 * time.Second
)

// connLog decides which connections get their own log lines (connected,
// disconnected, refused). A window starts with the first connection after
// the previous one ended; its first burst connections are logged, the rest
// are only counted, and when the window ends one line says how many
// ("412 more connections in the last 10s"). So a flood of clients, or a
// port scan, cannot flood the log, while a quiet server still logs every
// connection, as the seed printed every "[+] Connected".
type connLog struct {
	log    *slog.Logger
	burst  int
	window time.Duration

	mu     sync.Mutex  // guards the fields below
	start  time.Time   // when the current window began
	logged int         // connections logged in the current window
	quiet  int         // connections counted but not logged, not yet summarised
	timer  *time.Timer // summarises quiet at the window's end; nil when quiet is 0
	closed bool
}

func newConnLog(log *slog.Logger) *connLog {
	return &connLog{log: log, burst: connLogBurst, window: connLogWindow}
}

// admit counts a new connection and reports whether its lines are logged.
func (l *connLog) admit() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := time.Now()
	if now.Sub(l.start) >= l.window {
		l.start, l.logged = now, 0
	}
	if l.logged < l.burst {
		l.logged++
		return true
	}
	l.quiet++
	if l.timer == nil && !l.closed {
		l.timer = time.AfterFunc(l.start.Add(l.window).Sub(now), l.summarise)
	}
	return false
}

// summarise logs how many connections went unlogged since the last summary.
func (l *connLog) summarise() {
	l.mu.Lock()
	n := l.quiet
	l.quiet, l.timer = 0, nil
	l.mu.Unlock()
	if n > 0 {
		l.log.Info(fmt.Sprintf("%d more connections in the last %v", n, l.window), "count", n)
	}
}

// close stops the timer and logs what it would have: at shutdown, the
// count must not be lost or come after the server's last line.
func (l *connLog) close() {
	l.mu.Lock()
	l.closed = true
	if l.timer != nil {
		l.timer.Stop()
	}
	l.mu.Unlock()
	l.summarise()
}
