package cluster

import (
	"fmt"
	"io"

	"github.com/dsm-dev/dsm/shm"
)

// WriteImage writes img in the snapshot format (SnapshotVersion, with
// applied index 0 and no locks): the backup format of dsm backup, which
// ReadImage reads back. The cluster's reserved variables are left out,
// so an image of a node's file restores into any file of its seed and
// capacities.
func WriteImage(w io.Writer, img shm.Image) error {
	s := &snapshot{seed: img.Seed, limits: shm.Limits{Capacity: img.Capacity, NameMax: img.NameMax,
		ValueMax: img.ValueMax, GroupMax: img.GroupMax}}
	for _, v := range img.Vars {
		if !Reserved(v.Name) {
			s.vars = append(s.vars, snapVar{name: v.Name, value: v.Value, version: v.Version})
		}
	}
	return s.encode(w)
}

// ReadImage reads what WriteImage wrote, or a node's snapshot (its
// variables; its applied index and locks are left out), checking its
// magic, format and checksum.
func ReadImage(r io.Reader) (shm.Image, error) {
	s, err := readSnapshot(r)
	if err != nil {
		return shm.Image{}, err
	}
	img := shm.Image{Seed: s.seed, Capacity: s.limits.Capacity, NameMax: s.limits.NameMax,
		ValueMax: s.limits.ValueMax, GroupMax: s.limits.GroupMax, Vars: make([]shm.ImageVar, 0, len(s.vars))}
	for _, v := range s.vars {
		if Reserved(v.name) {
			return shm.Image{}, fmt.Errorf("%w: holds reserved %q", ErrBadSnapshot, v.name)
		}
		img.Vars = append(img.Vars, shm.ImageVar{Name: v.name, Value: v.value, Version: v.version})
	}
	return img, nil
}
