package main

import (
	"bytes"
	"os"
	"strings"
	"testing"
)

// dsm runs the command line args with stdin and returns what it printed
// and its exit code.
func dsm(tb testing.TB, stdin string, args ...string) (stdout, stderr string, code int) {
	tb.Helper()
	var out, errOut bytes.Buffer
	code = run(args, strings.NewReader(stdin), &out, &errOut)
	return out.String(), errOut.String(), code
}

// dsmArgsEnv makes the test binary run dsm with these arguments
// (separated by \x1f) instead of the tests: dsmProcess's second process.
const dsmArgsEnv = "DSM_TEST_DSM_ARGS"

func TestMain(m *testing.M) {
	if args := os.Getenv(dsmArgsEnv); args != "" {
		os.Exit(run(strings.Split(args, "\x1f"), os.Stdin, os.Stdout, os.Stderr))
	}
	// The tests must not read or write the user's history or password.
	os.Setenv("DSM_HISTFILE", "")
	os.Unsetenv("DSM_PASSWORD")
	os.Exit(m.Run())
}
