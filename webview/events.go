package webview

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"time"

	"github.com/dsm-dev/dsm/cluster"
	"github.com/dsm-dev/dsm/internal/glob"
	"github.com/dsm-dev/dsm/server"
)

// maxPattern bounds the glob a page filters with.
const maxPattern = 1024

// isReserved reports whether a variable is the cluster's own bookkeeping,
// which the view leaves out.
func isReserved(name []byte) bool { return bytes.HasPrefix(name, []byte(cluster.ReservedPrefix)) }

// hello is the first event of a stream: what the page needs to know once.
type hello struct {
	Write    bool   `json:"write"`
	Match    string `json:"match"`
	Limit    int    `json:"limit"`
	Login    bool   `json:"login"`
	Interval int64  `json:"interval_ms"`
}

// listing is a "vars" event: the variables a page shows, replacing what it
// had.
type listing struct {
	Vars    []varUpdate `json:"vars"`
	Matched int         `json:"matched"`
}

// events streams one page's updates as Server-Sent Events: "hello", then
// "vars" (a listing), then "changes" (the variables changed since,
// coalesced, at most every Interval) and "stats" once a second. The stream ends with the
// request or when the server begins to stop.
func (v *View) events(w http.ResponseWriter, r *http.Request) {
	fl, ok := w.(http.Flusher)
	if !ok {
		http.Error(w, "streaming unsupported", http.StatusInternalServerError)
		return
	}
	pattern := r.URL.Query().Get("match")
	if len(pattern) > maxPattern {
		http.Error(w, "the pattern is too long", http.StatusBadRequest)
		return
	}
	var match *glob.Pattern
	if pattern != "" && pattern != "*" {
		var err error
		if match, err = glob.Compile([]byte(pattern), false, maxPattern); err != nil {
			http.Error(w, "bad pattern: "+err.Error(), http.StatusBadRequest)
			return
		}
	}
	p := newPage(match, v.cfg.Limit)
	if err := v.broker.join(p); err != nil {
		http.Error(w, "dsmd is stopping", http.StatusServiceUnavailable)
		return
	}
	defer v.broker.leave(p)
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Accel-Buffering", "no")
	s := &stream{w: w, fl: fl}
	s.send("hello", hello{Write: v.cfg.Write, Match: pattern, Limit: v.cfg.Limit, Login: v.srv.PasswordSet(), Interval: v.cfg.Interval.Milliseconds()})
	v.sendListing(s, p, pattern)
	v.pump(r, s, p)
}

// pump sends the page's updates until the request or the server ends.
func (v *View) pump(r *http.Request, s *stream, p *page) {
	var sentStats int64
	var last time.Time
	keepAlive := time.NewTicker(15 * time.Second)
	defer keepAlive.Stop()
	for s.err == nil {
		if body, at := v.broker.latest(); at != sentStats && body != nil {
			sentStats = at
			s.event("stats", body)
		}
		// Coalesce: at most one batch of changes per Interval.
		if wait := v.cfg.Interval - time.Since(last); wait > 0 {
			if !sleep(r, v.srv, wait) {
				return
			}
		}
		if ups := p.take(); len(ups) > 0 {
			s.send("changes", ups)
			last = time.Now()
		}
		select {
		case <-p.wake:
		case <-keepAlive.C:
			s.comment()
		case <-r.Context().Done():
			return
		case <-v.srv.Done():
			return
		}
	}
}

// sleep waits d unless the request or the server ends first.
func sleep(r *http.Request, srv *server.Server, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-r.Context().Done():
	case <-srv.Done():
	}
	return false
}

// sendListing sends the variables the page's pattern matches, the first
// Limit by name.
func (v *View) sendListing(s *stream, p *page, pattern string) {
	vars, matched, err := v.srv.Variables(pattern, v.cfg.Limit)
	if err != nil {
		s.send("problem", err.Error())
		return
	}
	l := listing{Vars: make([]varUpdate, 0, len(vars)), Matched: matched}
	names := make([]string, 0, len(vars))
	for _, x := range vars {
		l.Vars = append(l.Vars, varUpdate{Name: x.Name, Value: x.Value, Int: x.Int, Version: x.Version})
		names = append(names, x.Name)
	}
	p.listed(names)
	s.send("vars", l)
}

// stream writes Server-Sent Events; the first failed write sticks in err.
type stream struct {
	w   http.ResponseWriter
	fl  http.Flusher
	err error
}

func (s *stream) send(name string, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		s.err = err
		return
	}
	s.event(name, b)
}

// event writes one event whose data is JSON (one line: JSON has no raw
// newline) and flushes it.
func (s *stream) event(name string, data []byte) {
	if s.err != nil {
		return
	}
	if _, s.err = fmt.Fprintf(s.w, "event: %s\ndata: %s\n\n", name, data); s.err == nil {
		s.fl.Flush()
	}
}

// comment keeps an idle stream open through proxies.
func (s *stream) comment() {
	if s.err == nil {
		_, s.err = fmt.Fprint(s.w, ": keep-alive\n\n")
		s.fl.Flush()
	}
}
