package cluster

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/dsm-dev/dsm/internal/durable"
)

// RunStateFile is the name, in a node's Raft directory (Config.Dir), of
// its run state: whether the node was running or stopped cleanly, and
// under which boot of its host. It is one line of text,
//
//	dsm-node 1 running BOOT-ID
//
// or the same with "stopped": a format word and number, the state, and
// the host's boot ID (BootIDFunc) when it was written. NewNode writes
// "running" before it changes the file; Shutdown writes "stopped" once
// Raft has stopped applying and the memory file is flushed to disk. Each
// write replaces the file through a synced temporary file and a rename,
// so a crash leaves the old line or the new one.
const RunStateFile = "dsm-node.state"

const runStateFormat = "dsm-node 1"

// BootIDFunc returns an ID of the host's current boot: it must differ
// after every reboot and stay the same until the next one.
type BootIDFunc func() (string, error)

// BootID is the default BootIDFunc: Linux's boot ID, a random UUID the
// kernel draws at every boot.
func BootID() (string, error) {
	b, err := os.ReadFile("/proc/sys/kernel/random/boot_id")
	if err != nil {
		return "", fmt.Errorf("boot ID: %w", err)
	}
	return strings.TrimSpace(string(b)), nil
}

// HostCrashed reports whether the host stopped (a power loss, a kernel
// panic) while the node whose Raft directory is dir was running: its run
// state says "running" under another boot. The node's memory file is then
// untrusted: it is a mapping, and the kernel writes its dirty pages back
// in any order, so after such a stop any of them may be older than the
// applied index the file records. A process crash (kill -9 of dsmd) is
// not a host crash: the page cache survives it and keeps the file and its
// applied index consistent (they move in one lock group), so it is not
// reported.
//
// A missing run state (a node that never ran, or a dsm that kept none)
// is trusted; one that does not parse is reported as a crash, since
// rebuilding costs only time and trusting a damaged file costs data.
// bootID nil means BootID. The caller decides what to do: dsmd starts the
// node from an empty file, which NewNode fills from the latest snapshot
// and the log (see the package documentation, Restart after a crash).
func HostCrashed(dir string, bootID BootIDFunc) (bool, error) {
	b, err := os.ReadFile(filepath.Join(dir, RunStateFile))
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	state, boot, ok := parseRunState(string(b))
	if !ok {
		return true, nil
	}
	now, err := bootIDOf(bootID)
	if err != nil {
		return false, err
	}
	return state == "running" && boot != now, nil
}

// parseRunState splits a run state line into its state and boot ID.
func parseRunState(s string) (state, boot string, ok bool) {
	rest, found := strings.CutPrefix(s, runStateFormat+" ")
	if !found || !strings.HasSuffix(rest, "\n") {
		return "", "", false
	}
	state, boot, _ = strings.Cut(strings.TrimSuffix(rest, "\n"), " ")
	if (state != "running" && state != "stopped") || boot == "" || strings.ContainsAny(boot, " \n") {
		return "", "", false
	}
	return state, boot, true
}

func bootIDOf(f BootIDFunc) (string, error) {
	if f == nil {
		f = BootID
	}
	id, err := f()
	if err == nil && (id == "" || strings.ContainsAny(id, " \n")) {
		err = fmt.Errorf("boot ID %q is empty or has spaces", id)
	}
	return id, err
}

// writeRunState records state ("running" or "stopped") under boot in dir:
// a synced temporary file renamed over the old one, then the directory
// synced, so that the new line is on disk when it returns.
func writeRunState(dir, state, boot string) error {
	path := filepath.Join(dir, RunStateFile)
	tmp := path + ".tmp"
	line := fmt.Sprintf("%s %s %s\n", runStateFormat, state, boot)
	if err := writeSynced(tmp, []byte(line)); err != nil {
		return fmt.Errorf("run state: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("run state: %w", err)
	}
	if err := durable.SyncDir(dir); err != nil {
		return fmt.Errorf("run state: %w", err)
	}
	return nil
}

func writeSynced(path string, b []byte) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	_, err = f.Write(b)
	if err == nil {
		err = f.Sync()
	}
	return errors.Join(err, f.Close())
}
