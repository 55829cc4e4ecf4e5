package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/dsm-dev/dsm/cluster"
	"github.com/dsm-dev/dsm/shm"
)

// backupLocal copies the file's variables at one instant (shm's Image).
func backupLocal(ctx context.Context, path string) (*backupResult, error) {
	l, err := openLocal(path, false)
	if err != nil {
		return nil, err
	}
	defer l.Close()
	start := time.Now()
	img, err := l.m.Image(ctx)
	pause := time.Since(start)
	if err != nil {
		return nil, localErr("backup", "", err)
	}
	var b bytes.Buffer
	if err := cluster.WriteImage(&b, img); err != nil {
		return nil, err
	}
	return &backupResult{Vars: len(img.Vars), Pause: pause, data: b.Bytes()}, nil
}

// restoreLocal installs the backup at src into the file at path, holding
// the file's daemon lock so that no dsmd serves it meanwhile, and returns
// how many variables it holds.
func restoreLocal(ctx context.Context, path, src string) (int, error) {
	data, err := os.ReadFile(src)
	if err != nil {
		return 0, err
	}
	img, err := cluster.ReadImage(bytes.NewReader(data))
	if err != nil {
		return 0, fmt.Errorf("%s: %w", src, err)
	}
	return len(img.Vars), installImage(ctx, path, img)
}

func installImage(ctx context.Context, path string, img shm.Image) error {
	m, err := shm.Open(shm.Config{Path: path, Exclusive: true, Seed: img.Seed, Vars: img.Capacity,
		NameMax: img.NameMax, ValueMax: img.ValueMax, GroupMax: img.GroupMax})
	switch {
	case errors.Is(err, shm.ErrLocked):
		return fmt.Errorf("restore into %s: dsmd serves it: stop dsmd first", path)
	case err != nil:
		return &fileError{path: path, err: err}
	}
	defer m.Close()
	if m.Replicated() {
		return fmt.Errorf("restore into %s: it is a cluster node's file; restore into a single host's file, or let the node take the cluster's snapshot", path)
	}
	if err := m.Install(ctx, img); err != nil {
		if errors.Is(err, shm.ErrImage) {
			return fmt.Errorf("restore into %s: %w (restore into a new path, which takes the backup's, or move this file away)", path, err)
		}
		return err
	}
	return nil
}
