package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"time"
)

// runOneShot runs one command given on the command line, prints its result
// on stdout and any error on stderr, and returns the exit code.
func runOneShot(ctx context.Context, cfg *config, args []string, stdout, stderr io.Writer) int {
	switch strings.ToLower(args[0]) {
	case "watch":
		return runWatch(ctx, cfg, args[1:], stdout, stderr)
	case "lock":
		return runLock(ctx, cfg, args[1:], stdout, stderr)
	case "check":
		return runCheck(ctx, cfg, args[1:], stdout, stderr)
	case "upgrade":
		return runUpgrade(ctx, cfg, args[1:], stdout, stderr)
	case "backup":
		return runBackup(ctx, cfg, args[1:], stdout, stderr)
	case "restore":
		return runRestore(ctx, cfg, args[1:], stdout, stderr)
	}
	cmd := lookup(args[0])
	if cmd != nil {
		if err := cmd.check(args[1:]); err != nil {
			return fail(stderr, cfg.format, err)
		}
	} else if cfg.file != "" {
		return fail(stderr, cfg.format, unknownCommand(args[0]))
	}
	st, err := cfg.open(ctx, cmd == nil || cmd.write)
	if err != nil {
		return fail(stderr, cfg.format, err)
	}
	defer st.Close()
	r, err := execute(ctx, cfg.timeout, st, args)
	return printResult(cfg.format, args, r, err, stdout, stderr)
}

// printResult prints a command's result, or its error, and returns the
// exit code.
func printResult(f format, args []string, r result, err error, stdout, stderr io.Writer) int {
	if null, ok := missingAsNull(f, args, err); ok {
		if err := write(stdout, f, null); err != nil {
			return fail(stderr, f, err)
		}
		return exitCode(err)
	}
	if err == nil {
		err = write(stdout, f, r)
	}
	if err != nil {
		return fail(stderr, f, err)
	}
	return exitOK
}

// execute runs one command line against st within timeout. A name that is
// not a dsm command goes to the daemon as it is; local mode has no daemon
// to ask, so there it is an error.
func execute(ctx context.Context, timeout time.Duration, st store, args []string) (result, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	cmd := lookup(args[0])
	if cmd == nil {
		// The daemon, or the connection that holds locks on it.
		r, ok := st.(interface {
			Do(ctx context.Context, args ...any) (any, error)
		})
		if !ok {
			return nil, unknownCommand(args[0])
		}
		cmdArgs := make([]any, len(args))
		for i, a := range args {
			cmdArgs[i] = a
		}
		reply, err := r.Do(ctx, cmdArgs...)
		if err != nil {
			return nil, err
		}
		return replyResult{reply}, nil
	}
	if err := cmd.check(args[1:]); err != nil {
		return nil, err
	}
	return cmd.run(ctx, st, args[1:])
}

func unknownCommand(name string) error {
	return &usageError{msg: fmt.Sprintf("unknown command %q (try help)", name)}
}

// fail prints err and returns its exit code: "dsm: ERROR" as text, or with
// -o json one object on stderr, so that a script reading JSON never has to
// parse prose (see jsonError).
func fail(stderr io.Writer, f format, err error) int {
	code := exitCode(err)
	if f == formatJSON {
		json.NewEncoder(stderr).Encode(jsonError{Error: err.Error(), Kind: exitKinds[code], Exit: code})
		return code
	}
	fmt.Fprintln(stderr, "dsm:", err)
	return code
}

// jsonError is an error as -o json prints it: the message, a kind a script
// can switch on, and the exit code that goes with it.
type jsonError struct {
	Error string `json:"error"`
	Kind  string `json:"kind"`
	Exit  int    `json:"exit"`
}

// exitKinds names the exit codes for jsonError.
var exitKinds = map[int]string{
	exitError:       "error",
	exitNotFound:    "not_found",
	exitRefused:     "refused",
	exitUnreachable: "unreachable",
}
