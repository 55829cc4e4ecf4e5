package shm

import (
	"context"
	"fmt"
	"strconv"
)

// The writes of a local process on a replicated file (see replicated.go),
// as commands to the node's daemon. Each checks here first what this
// package checks before it writes (names, values, group sizes), so that
// those errors are the same as on a file of one host; the daemon's errors
// come back as this package's (replyError). The commands are dsmd's:
//
//	SETVER key value [NX] [XX]          [stored, version, old version, old value or null]
//	INCRVER key delta                   [sum, version]
//	CASVER key VALUE|VERSION old new    [swapped, version]
//	DEL key...                          count
//	MSET key value...                   OK
//	CLUSTER SYNC                        the node's applied index, after a read barrier
//
// A write waits for its reply without a time limit of its own: the daemon
// bounds it (a node without a leader answers CLUSTERDOWN, ErrDaemon, once
// its leader wait is over).
//
// A value travels as its text and the daemon parses it as Redis does: a
// byte string that is the canonical decimal form of an int64 ("42") is
// stored as that integer, as any remote SET stores it (Equal, String and
// Int see no difference; IsInt does).

var (
	cmdSetVer  = []byte("SETVER")
	cmdIncrVer = []byte("INCRVER")
	cmdCASVer  = []byte("CASVER")
	cmdDel     = []byte("DEL")
	cmdMSet    = []byte("MSET")
)

// remote sends one write to the daemon.
func (m *Memory) remote(args ...[]byte) ([]int64, Item, error) {
	if m.closed.Load() {
		return nil, Item{}, ErrClosed
	}
	rep, err := m.daemon.call(background, false, args...)
	if err != nil {
		return nil, Item{}, err
	}
	switch rep.Type {
	case ':':
		return []int64{rep.Int}, Item{}, nil
	case '+':
		return nil, Item{}, nil
	}
	n := 2
	if string(args[0]) == string(cmdSetVer) {
		n = 3
	}
	ints, err := replyInts(rep, n)
	if err != nil || n == 2 {
		return ints, Item{}, err
	}
	if len(rep.Elems) != 4 {
		return nil, Item{}, fmt.Errorf("%w: SETVER answered %d elements", ErrDaemon, len(rep.Elems))
	}
	old := Item{Version: uint64(ints[2])}
	if e := rep.Elems[3]; !e.Null {
		old.Value, old.Found = ParseValue(e.Str), true
	}
	return ints, old, nil
}

// setRemote is SetWith through the daemon, with the version after.
func (m *Memory) setRemote(name []byte, v Value, o SetOptions) (old Item, stored bool, ver uint64, err error) {
	if err := m.checkName(name); err != nil {
		return Item{}, false, 0, err
	}
	args := [][]byte{cmdSetVer, name, v.AppendText(nil)}
	if o.IfAbsent {
		args = append(args, []byte("NX"))
	}
	if o.IfExists {
		args = append(args, []byte("XX"))
	}
	ints, old, err := m.remote(args...)
	if err != nil {
		return Item{}, false, 0, err
	}
	return old, ints[0] == 1, uint64(ints[1]), nil
}

// addRemote is Add through the daemon.
func (m *Memory) addRemote(name []byte, delta int64) (int64, uint64, error) {
	if err := m.checkName(name); err != nil {
		return 0, 0, err
	}
	ints, _, err := m.remote(cmdIncrVer, name, strconv.AppendInt(nil, delta, 10))
	if err != nil {
		return 0, 0, err
	}
	return ints[0], uint64(ints[1]), nil
}

// casRemote is CompareAndSwap (by is "VALUE") or CompareVersionAndSwap
// ("VERSION") through the daemon.
func (m *Memory) casRemote(name []byte, by string, old []byte, new Value) (bool, uint64, error) {
	if err := m.checkName(name); err != nil {
		return false, 0, err
	}
	ints, _, err := m.remote(cmdCASVer, name, []byte(by), old, new.AppendText(nil))
	if err != nil {
		return false, 0, err
	}
	return ints[0] == 1, uint64(ints[1]), nil
}

// deleteRemote is Delete through the daemon: the names before the first
// invalid one are deleted, as Delete does, in DELs of as many as one lock
// group of the node takes (its applied index is in each).
func (m *Memory) deleteRemote(names [][]byte) (int, error) {
	valid := names
	var bad error
	for i, name := range names {
		if err := m.checkName(name); err != nil {
			valid, bad = names[:i], err
			break
		}
	}
	per := max(int(m.meta.groupMax)-1, 1)
	n := 0
	for len(valid) > 0 {
		batch := valid[:min(per, len(valid))]
		valid = valid[len(batch):]
		ints, _, err := m.remote(append([][]byte{cmdDel}, batch...)...)
		if err != nil {
			return n, err
		}
		n += int(ints[0])
	}
	return n, bad
}

// msetRemote is MSet through the daemon, whose lock group holds the
// node's applied index too: one name fewer than GroupMax fits.
func (m *Memory) msetRemote(names [][]byte, vals []Value) error {
	if err := m.checkGroup(names); err != nil {
		return err
	}
	if len(names)+1 > int(m.meta.groupMax) {
		return fmt.Errorf("%w: %d, the limit on a replicated file is %d (the node's applied index is one of the group)",
			ErrTooMany, len(names), m.meta.groupMax-1)
	}
	args := make([][]byte, 0, 1+2*len(names))
	args = append(args, cmdMSet)
	for i, name := range names {
		args = append(args, name, vals[i].AppendText(nil))
	}
	_, _, err := m.remote(args...)
	return err
}

// SyncReads makes the reads that follow it linearizable on a replicated
// file: it returns once this mapping holds every write acknowledged,
// anywhere in the cluster, before the call. It asks the node's daemon for
// a read barrier (CLUSTER SYNC), which answers once the node's file holds
// them; the file is the one mapped here. It fails with ErrNoDaemon if the
// daemon is not running, with ErrDaemon if the node cannot tell (no leader
// within its bound) and with ctx's error if ctx ends first.
//
// On a file that is not replicated every read is linearizable already and
// SyncReads returns nil at once; so it does in the daemon's own Memory,
// whose node serves barriers itself (cluster.Node.ReadBarrier).
// (Sync, the older name, flushes the file to disk.)
func (m *Memory) SyncReads(ctx context.Context) error {
	if m.closed.Load() {
		return ErrClosed
	}
	if !m.viaDaemon() {
		return nil
	}
	rep, err := m.daemon.call(ctx, true, []byte("CLUSTER"), []byte("SYNC"))
	if err != nil {
		return err
	}
	if rep.Type != ':' {
		return fmt.Errorf("%w: CLUSTER SYNC answered %q", ErrDaemon, rep.Type)
	}
	return nil
}
