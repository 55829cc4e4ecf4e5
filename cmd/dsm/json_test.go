package main

import (
	"encoding/json"
	"strings"
	"testing"
)

// TestJSONErrors: with -o json an error is one JSON object on stderr,
// with its message, kind and exit code; stdout stays empty.
func TestJSONErrors(t *testing.T) {
	d := startDaemon(t, "")
	dsm(t, "", at(d, "set", "s", "text")...)
	tests := []struct {
		args []string
		want jsonError
	}{
		{at(d, "-o", "json", "add", "s", "1"), jsonError{Error: "add s: value is not an integer", Kind: "error", Exit: exitError}},
		{at(d, "-o", "json", "get"), jsonError{Error: "usage: get NAME", Kind: "error", Exit: exitError}},
		{[]string{"-addr", freeAddr(t), "-timeout", "1s", "-o", "json", "get", "x"}, jsonError{Kind: "unreachable", Exit: exitUnreachable}},
	}
	for _, tt := range tests {
		out, errOut, code := dsm(t, "", tt.args...)
		var got jsonError
		if err := json.Unmarshal([]byte(errOut), &got); err != nil || strings.Count(errOut, "\n") != 1 {
			t.Errorf("dsm %s: stderr %q is not one JSON object: %v", strings.Join(tt.args, " "), errOut, err)
			continue
		}
		if tt.want.Error == "" {
			got.Error = "" // the network's words vary
		}
		if got != tt.want || code != tt.want.Exit || out != "" {
			t.Errorf("dsm %s: exit %d, stdout %q, error %+v; want %+v", strings.Join(tt.args, " "), code, out, got, tt.want)
		}
	}
}
