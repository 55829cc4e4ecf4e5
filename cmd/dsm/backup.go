package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"
)

const (
	backupUsage  = "usage: backup DEST (through the daemon, or with -file PATH without it)"
	restoreUsage = "usage: restore SRC (with -file PATH, dsmd stopped)"
)

// runBackup writes a consistent copy of every variable to DEST: the
// daemon's (BACKUP), or with -file the file's own (shm's Image, taken
// here, beside dsmd and local processes). Either way every variable is
// copied at one instant, readers and writers held back meanwhile; the
// pause is printed. DEST is written whole or not at all (a temporary file
// renamed over it once synced).
func runBackup(ctx context.Context, cfg *config, args []string, stdout, stderr io.Writer) int {
	if len(args) != 1 {
		return fail(stderr, cfg.format, &usageError{msg: backupUsage})
	}
	r, err := takeBackup(ctx, cfg)
	if err == nil {
		r.Dest = args[0]
		err = writeFileAtomic(args[0], r.data)
	}
	if err != nil {
		return fail(stderr, cfg.format, err)
	}
	if err := write(stdout, cfg.format, r); err != nil {
		return fail(stderr, cfg.format, err)
	}
	return exitOK
}

// takeBackup asks the daemon for its copy, or takes the file's.
func takeBackup(ctx context.Context, cfg *config) (*backupResult, error) {
	if cfg.file != "" {
		return backupLocal(ctx, cfg.file)
	}
	st, err := cfg.open(ctx, false)
	if err != nil {
		return nil, err
	}
	defer st.Close()
	rm, ok := st.(*remote)
	if !ok {
		return nil, fmt.Errorf("backup: no daemon connection")
	}
	v, err := rm.Do(ctx, "BACKUP")
	if err != nil {
		return nil, err
	}
	reply, ok := v.([]any)
	if !ok || len(reply) != 3 {
		return nil, fmt.Errorf("backup: unexpected reply %T from the daemon", v)
	}
	pause, _ := reply[0].(int64)
	n, _ := reply[1].(int64)
	data, _ := reply[2].(string)
	return &backupResult{Vars: int(n), Pause: time.Duration(pause) * time.Microsecond, data: []byte(data)}, nil
}

// writeFileAtomic writes data to path through a synced temporary file in
// the same directory, renamed over path, then syncs the directory.
func writeFileAtomic(path string, data []byte) error {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name())
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Rename(f.Name(), path); err != nil {
		return err
	}
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
	return nil
}

// backupResult is what backup wrote.
type backupResult struct {
	Dest  string        `json:"dest"`
	Vars  int           `json:"vars"`
	Pause time.Duration `json:"-"`
	data  []byte
}

func (r *backupResult) plain() []string {
	return []string{fmt.Sprintf("backup of %d variables written to %s (%d bytes); writers paused %v",
		r.Vars, r.Dest, len(r.data), r.Pause.Round(time.Microsecond))}
}

func (r *backupResult) objects() []any {
	return []any{map[string]any{"dest": r.Dest, "vars": r.Vars, "bytes": len(r.data), "pause_ms": float64(r.Pause.Microseconds()) / 1000}}
}

// runRestore puts a backup back into the file of -file, which dsmd must
// not be serving: the file then holds exactly the backup's variables,
// with their values and versions. A missing file is created with the
// backup's capacities and hash seed; an existing one must have them.
func runRestore(ctx context.Context, cfg *config, args []string, stdout, stderr io.Writer) int {
	if len(args) != 1 {
		return fail(stderr, cfg.format, &usageError{msg: restoreUsage})
	}
	if cfg.file == "" {
		return fail(stderr, cfg.format, &usageError{msg: "restore writes the file itself, with dsmd stopped: give it with -file PATH"})
	}
	n, err := restoreLocal(ctx, cfg.file, args[0])
	if err != nil {
		return fail(stderr, cfg.format, err)
	}
	return printResult(cfg.format, nil, restoreResult{Src: args[0], File: cfg.file, Vars: n}, nil, stdout, stderr)
}

// restoreResult is what restore did.
type restoreResult struct {
	Src  string `json:"src"`
	File string `json:"file"`
	Vars int    `json:"vars"`
}

func (r restoreResult) plain() []string {
	return []string{fmt.Sprintf("restored %d variables from %s into %s", r.Vars, r.Src, r.File)}
}

func (r restoreResult) objects() []any { return []any{r} }
