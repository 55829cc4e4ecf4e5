package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/dsm-dev/dsm/client"
)

// The seed's words, printed as its client printed them.
const (
	seedAskValue = "Enter new value: "
	seedVariable = "value" // the variable the seed's R and W read and write
)

// prompt is an interactive session: the seed's R, W and Q, and every
// command by name.
type prompt struct {
	cfg *config
	st  store
	in  lineReader
	out io.Writer
	// seen is how many connections the remote store had made when the
	// prompt last looked; more means it reconnected.
	seen int64
	// held, after lock, runs the commands until unlock (prompt_lock.go).
	held heldStore
	// failed is the exit code of the first command that failed: with
	// piped input it is dsm's, so that dsm < script.txt fails when a line
	// of the script did.
	failed int
}

// runPrompt runs the interactive prompt until Q or the end of input.
func runPrompt(ctx context.Context, cfg *config, stdin io.Reader, stdout, stderr io.Writer) int {
	st, err := cfg.open(ctx, true)
	if err != nil {
		return fail(stderr, cfg.format, err)
	}
	defer st.Close()
	in := newLineReader(stdin, stdout, stderr, func(prefix string) []string { return completeNames(ctx, cfg, st, prefix) })
	defer in.close()
	p := &prompt{cfg: cfg, st: st, in: in, out: in}
	if r, ok := st.(*remote); ok {
		p.seen = r.connects.Load()
	}
	defer p.release(ctx)
	return p.loop(ctx)
}

func (p *prompt) loop(ctx context.Context) int {
	p.banner()
	for {
		line, err := p.in.readLine(p.promptText())
		if err != nil {
			if !errors.Is(err, io.EOF) {
				return fail(p.in.errWriter(), p.cfg.format, err)
			}
			return p.exitCode()
		}
		args, err := splitArgs(line)
		if err != nil {
			p.report(err)
			continue
		}
		if len(args) == 0 {
			continue
		}
		if quit := p.dispatch(ctx, args); quit {
			return p.exitCode()
		}
	}
}

// banner greets a person at a terminal with one line; piped input gets
// none.
func (p *prompt) banner() {
	if p.in.interactive() {
		fmt.Fprintln(p.out, promptHint)
	}
}

// promptHint says that the seed's keys still work.
const promptHint = "R (read value), W (write value) and Q (quit) work as in the seed's client; help lists the commands."

// promptText is redis-cli's prompt: "dsm 127.0.0.1:12345> " (the node in
// use, of a cluster), or the file in local mode.
func (p *prompt) promptText() string {
	return "dsm " + p.st.Where() + "> "
}

// completeNames lists the variables whose names start with prefix, for
// Tab; it gives up quietly after a short while, or on error.
func completeNames(ctx context.Context, cfg *config, st store, prefix string) []string {
	ctx, cancel := context.WithTimeout(ctx, min(cfg.timeout, time.Second))
	defer cancel()
	names, err := st.List(ctx, globEscape(prefix)+"*")
	if err != nil {
		return nil
	}
	return names
}

// globEscape quotes the glob characters of s.
func globEscape(s string) string {
	var b strings.Builder
	for _, r := range s {
		if strings.ContainsRune(`*?[\`, r) {
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	return b.String()
}

// exitCode is the session's exit code: 0 at a terminal, where a person
// saw each failure, and with piped input that of the first failure.
func (p *prompt) exitCode() int {
	if p.in.interactive() {
		return exitOK
	}
	return p.failed
}

// noteFailure records a command's failure for exitCode.
func (p *prompt) noteFailure(code int) {
	if p.failed == exitOK {
		p.failed = code
	}
}

// dispatch runs one input line and reports whether the session is over.
func (p *prompt) dispatch(ctx context.Context, args []string) bool {
	if len(args) == 1 {
		switch strings.ToUpper(args[0]) {
		case "Q", "QUIT", "EXIT":
			return true
		case "R":
			p.seedRead(ctx)
			return false
		case "W":
			p.seedWrite(ctx)
			return false
		case "HELP", "?":
			p.help()
			return false
		}
	}
	if p.session(ctx, args) {
		return false
	}
	cmd := lookup(args[0])
	if cmd == nil {
		if _, ok := p.st.(*remote); !ok {
			fmt.Fprintf(p.out, "Invalid command %q (type help for the list)\n", args[0])
			p.noteFailure(exitError)
			return false
		}
	}
	// An unknown command might write, so only dsm's own reads are repeated.
	read := cmd != nil && !cmd.write
	var r result
	err := p.call(ctx, read, func(ctx context.Context) (err error) {
		r, err = execute(ctx, p.cfg.timeout, p.current(), args)
		return err
	})
	if err != nil {
		p.report(err)
		return false
	}
	if err := write(p.out, p.cfg.format, r); err != nil {
		p.report(err)
	}
	return false
}

// seedRead is the seed's R: the shared value as a 32-bit integer.
func (p *prompt) seedRead(ctx context.Context) {
	var v string
	err := p.call(ctx, true, func(ctx context.Context) (err error) {
		v, _, err = p.st.Get(ctx, seedVariable)
		return err
	})
	if err != nil && !errors.Is(err, client.ErrNotFound) {
		p.report(err)
		return
	}
	fmt.Fprintf(p.out, "Shared Value: %d\n", seedInt(v))
}

// seedInt reads a value as the seed's protocol does: the low 32 bits of an
// integer, and 0 for a missing or non-integer value.
func seedInt(v string) int32 {
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		return 0
	}
	return int32(n)
}

// seedWrite is the seed's W: ask for a 32-bit integer and store it.
func (p *prompt) seedWrite(ctx context.Context) {
	line, err := p.in.readLine(seedAskValue)
	if err != nil {
		return
	}
	n, err := strconv.ParseInt(strings.TrimSpace(line), 10, 32)
	if err != nil {
		fmt.Fprintln(p.out, "Invalid value: want a whole number from -2147483648 to 2147483647")
		p.noteFailure(exitError)
		return
	}
	err = p.call(ctx, false, func(ctx context.Context) error {
		return p.st.Set(ctx, seedVariable, strconv.FormatInt(n, 10))
	})
	if err != nil {
		p.report(err)
		return
	}
	fmt.Fprintln(p.out, "Server: OK")
}

func (p *prompt) help() {
	fmt.Fprintf(p.out, "  %-24s %s\n", "R", "read the shared value (the variable \"value\")")
	fmt.Fprintf(p.out, "  %-24s %s\n", "W", "write the shared value")
	fmt.Fprintf(p.out, "  %-24s %s\n", "Q", "quit (also quit, exit, end of input)")
	for _, c := range commands {
		fmt.Fprintf(p.out, "  %-24s %s\n", strings.TrimSpace(c.name+" "+c.args), c.help)
	}
	for _, c := range sessionCommands[2:] { // watch and one-shot lock are for the command line
		fmt.Fprintf(p.out, "  %-24s %s\n", c[0], c[1])
	}
	if _, ok := p.st.(*remote); ok {
		fmt.Fprintf(p.out, "  %-24s %s\n", "help", "this list; other commands go to the daemon as they are")
	}
}

// report prints an error of one command; the session goes on.
func (p *prompt) report(err error) {
	p.noteFailure(exitCode(err))
	if errors.Is(err, context.Canceled) {
		fmt.Fprintln(p.in.errWriter(), "interrupted")
		return
	}
	fmt.Fprintln(p.in.errWriter(), "error:", err)
}

// say prints a message about the connection.
func (p *prompt) say(format string, args ...any) {
	fmt.Fprintf(p.out, format+"\n", args...)
}

// call runs f and, when the daemon turns out to be gone, waits for it to
// come back (up to -reconnect) and says so. f runs again after the
// reconnection when that is safe: when it only reads, or when its request
// never left (the connection could not be made).
func (p *prompt) call(ctx context.Context, read bool, f func(context.Context) error) error {
	ctx, done := p.in.running(ctx)
	defer done()
	r, isRemote := p.st.(*remote)
	err := f(ctx)
	if isRemote && errors.Is(err, client.ErrUnreachable) {
		p.say("connection to %s lost; reconnecting...", r.Addr())
		if !p.reconnect(ctx, r) {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return err
		}
		// A write that was sent fails as it is: its error says that it
		// may or may not have taken effect (client.ErrUncertain).
		if read || neverSent(err) {
			err = f(ctx)
		}
	}
	if isRemote {
		p.noticeReconnect(r)
	}
	return err
}

// reconnect pings the daemon until it answers, -reconnect passes, or ctx
// ends (Ctrl-C).
func (p *prompt) reconnect(ctx context.Context, r *remote) bool {
	deadline := time.Now().Add(p.cfg.reconnect)
	for {
		pctx, cancel := context.WithTimeout(ctx, time.Second)
		err := r.Ping(pctx)
		cancel()
		switch {
		case err == nil:
			p.noticeReconnect(r)
			return true
		case ctx.Err() != nil:
			return false
		case !errors.Is(err, client.ErrUnreachable):
			p.say("could not reconnect to %s: %v", r.Addr(), err)
			return false
		case time.Now().After(deadline):
			p.say("could not reconnect to %s within %v", r.Addr(), p.cfg.reconnect)
			return false
		}
		select {
		case <-ctx.Done():
			return false
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// noticeReconnect says so when the client made a new connection since the
// last look: the old one broke (the daemon restarted) and was replaced.
func (p *prompt) noticeReconnect(r *remote) {
	if n := r.connects.Load(); n > p.seen {
		p.seen = n
		p.say("reconnected to %s", r.Addr())
	}
}

// neverSent reports whether err happened while connecting, so the request
// was never sent.
func neverSent(err error) bool {
	var op *net.OpError
	return errors.As(err, &op) && op.Op == "dial"
}

// splitArgs splits a prompt line into arguments: words separated by spaces,
// with "double quotes" (backslash escapes \" \\ \n \t) and 'single quotes'
// as redis-cli takes them.
func splitArgs(line string) ([]string, error) {
	var args []string
	var cur strings.Builder
	inWord := false
	for i := 0; i < len(line); i++ {
		c := line[i]
		switch {
		case c == ' ' || c == '\t':
			if inWord {
				args = append(args, cur.String())
				cur.Reset()
				inWord = false
			}
		case c == '"' || c == '\'':
			end, err := quoted(line, i, &cur)
			if err != nil {
				return nil, err
			}
			i = end
			inWord = true
		default:
			cur.WriteByte(c)
			inWord = true
		}
	}
	if inWord {
		args = append(args, cur.String())
	}
	return args, nil
}

// quoted copies the quoted string that starts at line[start] into b and
// returns the index of its closing quote.
func quoted(line string, start int, b *strings.Builder) (int, error) {
	q := line[start]
	for i := start + 1; i < len(line); i++ {
		c := line[i]
		switch {
		case c == q:
			return i, nil
		case c == '\\' && q == '"' && i+1 < len(line):
			i++
			b.WriteByte(unescape(line[i]))
		default:
			b.WriteByte(c)
		}
	}
	return 0, &usageError{msg: "unbalanced quotes"}
}

func unescape(c byte) byte {
	switch c {
	case 'n':
		return '\n'
	case 't':
		return '\t'
	case 'r':
		return '\r'
	}
	return c
}
