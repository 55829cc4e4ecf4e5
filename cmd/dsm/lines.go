package main

import (
	"bufio"
	"context"
	"errors"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strings"

	"golang.org/x/term"
)

// lineReader reads the prompt's input lines and carries its output.
//
// On a terminal it is golang.org/x/term's Terminal: line editing, history
// (up/down, kept in ~/.dsm_history) and Tab completion of command names,
// with the terminal in raw mode until close. The issue suggested
// github.com/ergochat/readline, but it is not available from the module
// proxy here, and github.com/chzyer/readline is unmaintained; x/term is
// maintained by the Go team and enough for a prompt.
//
// Elsewhere (a pipe, a file) it reads plain lines and prints no prompts,
// so that the output of dsm < script.txt is the commands' results only.
type lineReader interface {
	io.Writer
	// readLine prints prompt and returns the next line without its line
	// ending, or io.EOF at the end of input.
	readLine(prompt string) (string, error)
	// errWriter is where error messages go.
	errWriter() io.Writer
	// running prepares for a command: on a terminal it returns to the
	// normal mode, so that Ctrl-C interrupts the command (cancelling the
	// returned context) rather than arriving as a key. done ends it.
	running(ctx context.Context) (_ context.Context, done func())
	// interactive reports whether a person types the input: then the
	// prompt prints its banner and prompts, and a failed command does not
	// change the exit status.
	interactive() bool
	// close restores the terminal.
	close()
}

// newLineReader picks the terminal reader when stdin and stdout are both a
// terminal, the plain one otherwise.
func newLineReader(stdin io.Reader, stdout, stderr io.Writer) lineReader {
	in, inOK := stdin.(*os.File)
	out, outOK := stdout.(*os.File)
	if inOK && outOK && term.IsTerminal(int(in.Fd())) && term.IsTerminal(int(out.Fd())) {
		if tr, err := newTermReader(in, out); err == nil {
			return tr
		}
	}
	return &plainReader{in: bufio.NewReader(stdin), Writer: stdout, stderr: stderr}
}

// plainReader reads lines from a pipe or a file.
type plainReader struct {
	io.Writer
	in     *bufio.Reader
	stderr io.Writer
}

// readLine leaves the prompt out: nobody reads it.
func (p *plainReader) readLine(string) (string, error) {
	line, err := p.in.ReadString('\n')
	if err != nil && !(errors.Is(err, io.EOF) && line != "") {
		return "", err
	}
	return strings.TrimRight(line, "\r\n"), nil
}

func (p *plainReader) errWriter() io.Writer { return p.stderr }
func (p *plainReader) close()               {}
func (p *plainReader) interactive() bool    { return false }

// running changes nothing on a pipe: Ctrl-C ends dsm, as it ends any
// program in a pipeline.
func (p *plainReader) running(ctx context.Context) (context.Context, func()) {
	return ctx, func() {}
}

// termReader is an interactive terminal.
type termReader struct {
	*term.Terminal
	fd    int
	saved *term.State
}

func newTermReader(in, out *os.File) (*termReader, error) {
	fd := int(in.Fd())
	saved, err := term.MakeRaw(fd)
	if err != nil {
		return nil, err
	}
	t := term.NewTerminal(struct {
		io.Reader
		io.Writer
	}{in, out}, "")
	if w, h, err := term.GetSize(int(out.Fd())); err == nil {
		_ = t.SetSize(w, h)
	}
	t.History = loadHistory(historyPath())
	t.AutoCompleteCallback = complete
	return &termReader{Terminal: t, fd: fd, saved: saved}, nil
}

func (t *termReader) readLine(prompt string) (string, error) {
	// The seed's prompt starts with a newline; the terminal draws only the
	// last line of a prompt well, so the newline is written first.
	if rest, ok := strings.CutPrefix(prompt, "\n"); ok {
		if _, err := t.Write([]byte("\n")); err != nil {
			return "", err
		}
		prompt = rest
	}
	t.SetPrompt(prompt)
	line, err := t.ReadLine()
	if errors.Is(err, term.ErrPasteIndicator) {
		err = nil
	}
	return line, err
}

// Errors go through the terminal too: in raw mode only it turns "\n" into
// "\r\n".
func (t *termReader) errWriter() io.Writer { return t.Terminal }

func (t *termReader) running(ctx context.Context) (context.Context, func()) {
	_ = term.Restore(t.fd, t.saved)
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt)
	return ctx, func() {
		stop()
		_, _ = term.MakeRaw(t.fd)
	}
}

func (t *termReader) interactive() bool { return true }

func (t *termReader) close() {
	if h, ok := t.History.(*fileHistory); ok {
		h.close()
	}
	_ = term.Restore(t.fd, t.saved)
}

// complete completes the command name under the cursor on Tab when one
// command has that prefix.
func complete(line string, pos int, key rune) (string, int, bool) {
	if key != '\t' || strings.ContainsAny(line[:pos], " \t") {
		return "", 0, false
	}
	var match string
	for _, c := range commands {
		if strings.HasPrefix(c.name, strings.ToLower(line[:pos])) {
			if match != "" {
				return "", 0, false
			}
			match = c.name
		}
	}
	if match == "" {
		return "", 0, false
	}
	return match + " " + line[pos:], len(match) + 1, true
}

// historyMax is how many lines the history keeps.
const historyMax = 1000

// fileHistory is the prompt's history, loaded from and appended to a file
// so it lasts across sessions, as redis-cli's does.
type fileHistory struct {
	lines []string // oldest first
	f     *os.File // nil when the file cannot be written
}

// historyPath is $DSM_HISTFILE, or ~/.dsm_history; empty turns the file off.
func historyPath() string {
	if p, ok := os.LookupEnv("DSM_HISTFILE"); ok {
		return p
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return ""
	}
	return filepath.Join(home, ".dsm_history")
}

func loadHistory(path string) *fileHistory {
	h := &fileHistory{}
	if path == "" {
		return h
	}
	if data, err := os.ReadFile(path); err == nil {
		for line := range strings.Lines(string(data)) {
			if line = strings.TrimRight(line, "\r\n"); line != "" {
				h.lines = append(h.lines, line)
			}
		}
		if len(h.lines) > historyMax {
			h.lines = h.lines[len(h.lines)-historyMax:]
		}
	}
	h.f, _ = os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	return h
}

// Add records a line, skipping empty lines, repeats of the last one and
// lines that carry a password (AUTH), as redis-cli does.
func (h *fileHistory) Add(line string) {
	if line == "" || (len(h.lines) > 0 && h.lines[len(h.lines)-1] == line) {
		return
	}
	if f := strings.Fields(line); len(f) > 0 && strings.EqualFold(f[0], "auth") {
		return
	}
	h.lines = append(h.lines, line)
	if len(h.lines) > historyMax {
		h.lines = h.lines[1:]
	}
	if h.f != nil {
		_, _ = h.f.WriteString(line + "\n")
	}
}

// Len returns the number of lines kept.
func (h *fileHistory) Len() int { return len(h.lines) }

// At returns a line, 0 being the most recent.
func (h *fileHistory) At(i int) string { return h.lines[len(h.lines)-1-i] }

func (h *fileHistory) close() {
	if h.f != nil {
		_ = h.f.Close()
	}
}
