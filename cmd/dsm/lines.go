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

	"github.com/chzyer/readline"
	"golang.org/x/term"
)

// lineReader reads the prompt's input lines and carries its output.
//
// On a terminal it is termReader (github.com/chzyer/readline).
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
//
// names lists the variable names that start with a prefix, for completion.
func newLineReader(stdin io.Reader, stdout, stderr io.Writer, names func(prefix string) []string) lineReader {
	in, inOK := stdin.(*os.File)
	out, outOK := stdout.(*os.File)
	if inOK && outOK && term.IsTerminal(int(in.Fd())) && term.IsTerminal(int(out.Fd())) {
		if tr, err := newTermReader(in, out, names); err == nil {
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

// termReader is an interactive terminal, through github.com/chzyer/readline:
// line editing, history with Ctrl-R search (kept in ~/.dsm_history), and
// Tab completion of command names and of the daemon's variable names. The
// terminal is raw only while a line is read, so Ctrl-C during a command is
// a SIGINT that running turns into cancelling the command.
type termReader struct {
	rl *readline.Instance
}

func newTermReader(in, out *os.File, names func(prefix string) []string) (*termReader, error) {
	rl, err := readline.NewEx(&readline.Config{
		HistoryFile:            historyPath(),
		HistoryLimit:           historyMax,
		DisableAutoSaveHistory: true, // readLine leaves AUTH lines out
		HistorySearchFold:      true,
		AutoComplete:           completer{names: names},
		EOFPrompt:              "\n", // Ctrl-D leaves the shell's prompt on a line of its own
		Stdin:                  in,
		Stdout:                 out,
		Stderr:                 out,
	})
	if err != nil {
		return nil, err
	}
	return &termReader{rl: rl}, nil
}

func (t *termReader) readLine(prompt string) (string, error) {
	for {
		t.rl.SetPrompt(prompt)
		line, err := t.rl.Readline()
		if errors.Is(err, readline.ErrInterrupt) {
			continue // Ctrl-C at the prompt drops the line, as in a shell
		}
		if err != nil {
			return "", err
		}
		if keepInHistory(line) {
			_ = t.rl.SaveHistory(line)
		}
		return line, nil
	}
}

func (t *termReader) Write(b []byte) (int, error) { return t.rl.Stdout().Write(b) }
func (t *termReader) errWriter() io.Writer        { return t.rl.Stderr() }
func (t *termReader) interactive() bool           { return true }
func (t *termReader) close()                      { _ = t.rl.Close() }

func (t *termReader) running(ctx context.Context) (context.Context, func()) {
	return signal.NotifyContext(ctx, os.Interrupt)
}

// completer completes the first word from the command names and the
// others from the variable names the daemon (or the file) has.
type completer struct {
	names func(prefix string) []string
}

// promptWords are the words the prompt knows besides the commands.
var promptWords = []string{"R", "W", "Q", "help", "lock", "unlock", "quit", "exit"}

func (c completer) Do(line []rune, pos int) ([][]rune, int) {
	before := string(line[:pos])
	start := strings.LastIndexAny(before, " \t") + 1
	word := before[start:]
	var cands []string
	if start == 0 {
		for _, cmd := range commands {
			cands = append(cands, cmd.name)
		}
		cands = append(cands, promptWords...)
	} else if c.names != nil {
		cands = c.names(word)
	}
	var out [][]rune
	for _, cand := range cands {
		if strings.HasPrefix(strings.ToLower(cand), strings.ToLower(word)) && len(cand) >= len(word) {
			out = append(out, []rune(cand[len(word):]+" "))
		}
	}
	return out, len([]rune(word))
}

// historyMax is how many lines the history keeps.
const historyMax = 1000

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

// keepInHistory leaves out empty lines and lines that carry a password
// (AUTH), as redis-cli does.
func keepInHistory(line string) bool {
	f := strings.Fields(line)
	return len(f) > 0 && !strings.EqualFold(f[0], "auth")
}
