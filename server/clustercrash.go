package server

import (
	"errors"
	"fmt"
	"io/fs"
	"os"

	"github.com/dsm-dev/dsm/cluster"
	"github.com/dsm-dev/dsm/internal/redolog"
)

// discardAfterHostCrash removes a cluster node's memory file, and the redo
// log segments and the lock table beside it, if its host crashed while the node ran
// (cluster.HostCrashed): the kernel may have written the mapping's pages
// back in any order, so no part of the file can be trusted, nor can
// versions that count on from it. Open then creates an empty file, which
// the node fills from its latest snapshot and replays the log into, as a
// new node would. The cluster holds every acknowledged write, so nothing
// is lost; a copy would only double the disk the file takes. Call it
// before the file is opened.
func discardAfterHostCrash(st settings) error {
	dir := st.Cluster.Dir
	if dir == "" {
		dir = cluster.DefaultDir(st.File)
	}
	crashed, err := cluster.HostCrashed(dir, st.Cluster.BootID)
	if err != nil || !crashed {
		return err
	}
	segs, _, err := redolog.Segments(st.File)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	for _, p := range append(segs, st.File, cluster.LockFile(st.File)) {
		if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("discard the memory file after a host crash: %w", err)
		}
	}
	st.Logger.Warn("the host stopped while this cluster node ran: its memory file was discarded, to be rebuilt from the latest snapshot and the log",
		"file", st.File, "raft_dir", dir)
	return nil
}
