//go:build dsmbug

package cluster

import (
	"os"

	"github.com/dsm-dev/dsm/shm"
)

// installByRename is the planted bug planted.InstallByRename: it writes
// the snapshot to a new file and renames it over the node's, which the
// daemon (m) and the local processes go on mapping: they keep the old
// variables while the node believes it installed the new ones.
func installByRename(m *shm.Memory, img shm.Image) error {
	tmp := m.Path() + ".snapshot-new"
	os.Remove(tmp)
	n, err := shm.Open(shm.Config{Path: tmp, Vars: img.Capacity, NameMax: img.NameMax,
		ValueMax: img.ValueMax, GroupMax: img.GroupMax, Seed: img.Seed})
	if err != nil {
		return err
	}
	if err := n.Install(bgctx, img); err != nil {
		n.Close()
		return err
	}
	if err := n.Close(); err != nil {
		return err
	}
	return os.Rename(tmp, m.Path())
}
