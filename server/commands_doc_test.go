package server

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"testing"
)

var writeCommandsDoc = flag.Bool("write-commands-doc", false, "write docs/COMMANDS.md from the command table (go generate ./server)")

// TestCommandsDoc fails when docs/COMMANDS.md is not what the command
// table makes; with -write-commands-doc (go generate) it writes it.
func TestCommandsDoc(t *testing.T) {
	path := filepath.Join("..", "docs", "COMMANDS.md")
	want := newCommandTable().commandsMarkdown()
	if *writeCommandsDoc {
		if err := os.WriteFile(path, want, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("%s is stale: run go generate ./server", path)
	}
	for _, name := range []string{"### SET", "    SET key value [NX | XX] [GET] [KEEPTTL]", "#### CLIENT KILL", "### FLUSHALL", "### MONITOR", "#### SLOWLOG GET"} {
		if !bytes.Contains(got, []byte(name+"\n")) {
			t.Errorf("%s lacks %q", path, name)
		}
	}
}
