//go:build linux

package main

import (
	"encoding/base64"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/dsm-dev/dsm/client"
)

// TestJSONBinaryValue: a value that is not UTF-8 prints as base64 with
// "encoding":"base64", so a script gets its bytes back; text stays text.
func TestJSONBinaryValue(t *testing.T) {
	d := startDaemon(t, "")
	bin := "\xff\x00\xfe"
	if _, errOut, code := dsm(t, "", at(d, "mset", "bin", bin, "txt", "héllo")...); code != 0 {
		t.Fatalf("mset: exit %d: %s", code, errOut)
	}
	want := base64.StdEncoding.EncodeToString([]byte(bin))
	objs := jsonLines(t, d, "get", "bin")
	if len(objs) != 1 || objs[0]["value"] != want || objs[0]["encoding"] != "base64" {
		t.Errorf("get of a binary value as JSON: %v, want value %s with encoding base64", objs, want)
	}
	objs = jsonLines(t, d, "mget", "bin", "txt")
	if len(objs) != 2 || objs[0]["value"] != want || objs[0]["encoding"] != "base64" ||
		objs[1]["value"] != "héllo" || objs[1]["encoding"] != nil {
		t.Errorf("mget of a binary and a text value as JSON: %v", objs)
	}
}

// TestJSONMissingIsNull: with -o json a get of a missing variable prints
// its value as null on stdout, nothing on stderr, and still exits 2.
func TestJSONMissingIsNull(t *testing.T) {
	d := startDaemon(t, "")
	file := filepath.Join(t.TempDir(), "m.mem")
	dsm(t, "", "-file", file, "set", "other", "1")
	for _, args := range [][]string{
		at(d, "-o", "json", "get", "nothing"),
		{"-file", file, "-o", "json", "get", "nothing"},
		at(d, "-o", "json", "lock", "nothing", "--", "get", "nothing"),
	} {
		out, errOut, code := dsm(t, "", args...)
		if out != `{"name":"nothing","value":null}`+"\n" || errOut != "" || code != exitNotFound {
			t.Errorf("dsm %s: exit %d, stdout %q, stderr %q; want exit 2 and a null value",
				strings.Join(args, " "), code, out, errOut)
		}
	}
}

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
		{at(d, "-o", "json", "get"), jsonError{Error: "usage: get [-sync] NAME", Kind: "error", Exit: exitError}},
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

// TestJSONWatchBinaryValue: watch -o json prints a binary value as get
// does.
func TestJSONWatchBinaryValue(t *testing.T) {
	var b strings.Builder
	ch := client.Change{Name: "bin", Value: "\xff", Version: 3}
	if err := printChange(&b, formatJSON, time.Unix(0, 0).UTC(), ch); err != nil {
		t.Fatal(err)
	}
	want := `{"time":"1970-01-01T00:00:00.000Z","name":"bin","value":"/w==","encoding":"base64","version":3,"deleted":false}` + "\n"
	if b.String() != want {
		t.Errorf("printChange = %s, want %s", b.String(), want)
	}
}
