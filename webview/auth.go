package webview

import (
	"crypto/rand"
	"encoding/hex"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"time"
)

// Sessions: a login lasts sessionTTL; at most maxSessions are kept (the
// oldest goes first), so logins cannot grow the daemon's memory.
const (
	sessionCookie = "dsm_session"
	sessionTTL    = 12 * time.Hour
	maxSessions   = 1000
	// loginPause slows down guessing: each failed login holds the turn
	// of every login this long before its answer.
	loginPause = 500 * time.Millisecond
)

// sessions are the logins the View knows: random tokens with their expiry.
type sessions struct {
	mu     sync.Mutex // guards tokens
	tokens map[string]time.Time
}

func newSessions() *sessions { return &sessions{tokens: map[string]time.Time{}} }

// start returns a new session's token.
func (ss *sessions) start() string {
	var b [32]byte
	rand.Read(b[:])
	tok := hex.EncodeToString(b[:])
	ss.mu.Lock()
	defer ss.mu.Unlock()
	now := time.Now()
	for t, exp := range ss.tokens {
		if now.After(exp) {
			delete(ss.tokens, t)
		}
	}
	if len(ss.tokens) >= maxSessions {
		ss.dropOldestLocked()
	}
	ss.tokens[tok] = now.Add(sessionTTL)
	return tok
}

func (ss *sessions) dropOldestLocked() {
	var oldest string
	var at time.Time
	for t, exp := range ss.tokens {
		if oldest == "" || exp.Before(at) {
			oldest, at = t, exp
		}
	}
	delete(ss.tokens, oldest)
}

func (ss *sessions) valid(tok string) bool {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	exp, ok := ss.tokens[tok]
	return ok && time.Now().Before(exp)
}

func (ss *sessions) end(tok string) {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	delete(ss.tokens, tok)
}

// guard applies the daemon's access rules to every request, and refuses
// a request that names the host by a DNS name when no password protects
// the view (see the package documentation's Access).
func (v *View) guard(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Content-Type-Options", "nosniff")
		w.Header().Set("X-Frame-Options", "DENY")
		w.Header().Set("Referrer-Policy", "no-referrer")
		w.Header().Set("Content-Security-Policy", "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'")
		if err := v.srv.Admit(tcpAddr(r.RemoteAddr)); err != nil {
			http.Error(w, denial(err), http.StatusForbidden)
			return
		}
		if !v.srv.PasswordSet() && !literalHost(r.Host) {
			http.Error(w, "DENIED the web view without a password answers only requests for an IP address or localhost "+
				"(so that no web site can reach it through a DNS name pointed at this host); "+
				"open it by address, or start dsmd with -password", http.StatusMisdirectedRequest)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// denial is the text of Admit's error without the sentinel's line.
func denial(err error) string {
	msg := err.Error()
	if _, rest, ok := strings.Cut(msg, "\n"); ok {
		return rest
	}
	return msg
}

// tcpAddr turns http.Request.RemoteAddr back into the address the access
// rules classify.
func tcpAddr(s string) net.Addr {
	ap, err := netip.ParseAddrPort(s)
	if err != nil {
		return &net.TCPAddr{} // not loopback, so never trusted by mistake
	}
	return net.TCPAddrFromAddrPort(ap)
}

// literalHost reports whether a Host header names an IP address or
// localhost.
func literalHost(host string) bool {
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	host = strings.TrimSuffix(strings.TrimPrefix(host, "["), "]")
	if _, err := netip.ParseAddr(host); err == nil {
		return true
	}
	return strings.EqualFold(host, "localhost")
}

// loggedIn reports whether r may see the view: no password is set, or it
// carries a valid session.
func (v *View) loggedIn(r *http.Request) bool {
	if !v.srv.PasswordSet() {
		return true
	}
	c, err := r.Cookie(sessionCookie)
	return err == nil && v.sessions.valid(c.Value)
}

// authed lets h answer only requests that are logged in.
func (v *View) authed(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if !v.loggedIn(r) {
			http.Error(w, "log in first", http.StatusUnauthorized)
			return
		}
		h(w, r)
	}
}

// page serves the view, or the login form to a client not logged in.
func (v *View) page(w http.ResponseWriter, r *http.Request) {
	name := "assets/index.html"
	if !v.loggedIn(r) {
		name = "assets/login.html"
	}
	b, err := assets.ReadFile(name)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	if r.URL.Query().Get("failed") != "" {
		b = []byte(strings.Replace(string(b), `id="failed" hidden`, `id="failed"`, 1))
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.Write(b)
}

// login checks the password a login form sends, and starts a session.
func (v *View) login(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, 4<<10)
	if !v.srv.PasswordSet() {
		http.Redirect(w, r, "/", http.StatusSeeOther)
		return
	}
	// One login is checked at a time, and a failed one holds the turn
	// for loginPause: at most two guesses a second, however many clients.
	v.loginMu.Lock()
	ok := v.srv.CheckPassword(r.PostFormValue("password"))
	if !ok {
		time.Sleep(loginPause)
	}
	v.loginMu.Unlock()
	if !ok {
		v.log.Warn("web view login failed", "addr", r.RemoteAddr)
		http.Redirect(w, r, "/?failed=1", http.StatusSeeOther)
		return
	}
	http.SetCookie(w, &http.Cookie{
		Name: sessionCookie, Value: v.sessions.start(), Path: "/",
		HttpOnly: true, SameSite: http.SameSiteStrictMode, MaxAge: int(sessionTTL.Seconds()),
	})
	v.log.Info("web view login", "addr", r.RemoteAddr)
	http.Redirect(w, r, "/", http.StatusSeeOther)
}

func (v *View) logout(w http.ResponseWriter, r *http.Request) {
	if c, err := r.Cookie(sessionCookie); err == nil {
		v.sessions.end(c.Value)
	}
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Path: "/", MaxAge: -1})
	http.Redirect(w, r, "/", http.StatusSeeOther)
}
