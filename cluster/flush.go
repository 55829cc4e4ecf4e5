package cluster

import (
	"context"
	"errors"
	"strconv"

	"github.com/dsm-dev/dsm/shm"
)

// entryFlush is the entry of FlushAll: it has no argument. It deletes
// every variable in one step, so it is not an Applier's command (a lock
// group holds at most GroupMax variables): the FSM installs an empty
// image, as it installs a snapshot.
const entryFlush = "\x00flush"

// FlushAll deletes every variable of the cluster, as one log entry that
// every node applies in one whole-file write (shm.Memory.Install of an
// image holding only the applied index): a reader on any node sees all
// the variables or none. It returns how many variables the leader's
// apply deleted and the entry's index. The lock table is not changed:
// locks name variables, not values.
func (n *Node) FlushAll(ctx context.Context) (deleted int, r Reply, err error) {
	r, err = n.Write(ctx, [][]byte{[]byte(entryFlush)})
	if err != nil {
		return 0, r, err
	}
	deleted, _ = strconv.Atoi(string(r.Data))
	return deleted, r, nil
}

// applyFlush empties the file but for the applied index, which moves to
// index in the same install. Its reply is the count of variables deleted,
// in decimal.
func (f *FSM) applyFlush(index uint64) (reply []byte, err error) {
	names, err := liveNames(f.m)
	if err != nil {
		return nil, err
	}
	_, ver, err := f.m.Get([]byte(AppliedName))
	if err != nil && !errors.Is(err, shm.ErrNotFound) {
		return nil, err
	}
	l := f.m.Limits()
	img := shm.Image{Seed: f.m.Seed(), Capacity: l.Capacity, NameMax: l.NameMax, ValueMax: l.ValueMax, GroupMax: l.GroupMax,
		Vars: []shm.ImageVar{{Name: []byte(AppliedName), Value: shm.Int(int64(index)), Version: ver + 1}}}
	if err := f.m.Install(bgctx, img); err != nil {
		return nil, err
	}
	return strconv.AppendInt(nil, int64(len(names)), 10), nil
}
