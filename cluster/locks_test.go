package cluster

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"testing"
	"time"
)

// lockArgs is a lock-table request entry's arguments (after entryLock).
func lockArgs(write bool, lease int, names ...string) [][]byte {
	mode := "R"
	if write {
		mode = "W"
	}
	args := [][]byte{[]byte(opLockRequest), []byte("test"), []byte(mode), []byte("1000"), []byte(strconv.Itoa(lease))}
	for _, n := range names {
		args = append(args, []byte(n))
	}
	return args
}

func idArgs(op string, id uint64) [][]byte {
	return [][]byte{[]byte(op), []byte(strconv.FormatUint(id, 10))}
}

// tableRun applies entries to t at rising indexes from first and returns
// each reply (or error text).
func tableRun(t *testing.T, tab *LockTable, first uint64, entries ...[][]byte) []string {
	t.Helper()
	var out []string
	for i, e := range entries {
		r, err := tab.apply(first+uint64(i), e, time.Now())
		if err != nil {
			out = append(out, "error "+err.Error())
			continue
		}
		out = append(out, string(r))
	}
	return out
}

func TestLockTableGrantsAndQueues(t *testing.T) {
	tab := newLockTable()
	got := tableRun(t, tab, 10,
		lockArgs(false, 100, "x"),      // 10: read x, granted
		lockArgs(false, 100, "x", "y"), // 11: read x y, granted (shared)
		lockArgs(true, 100, "x"),       // 12: write x, waits for the readers
		lockArgs(false, 100, "x"),      // 13: read x: waits behind the writer (writer priority)
		lockArgs(true, 100, "z", "y"),  // 14: write y z: waits for 11's read of y
		lockArgs(true, 100, "w"),       // 15: unrelated: granted
	)
	want := []string{"G 10", "G 11", "Q", "Q", "Q", "G 15"}
	if !slices.Equal(got, want) {
		t.Fatalf("replies %q; want %q", got, want)
	}
	// 11 releases: 14 goes (y z free), 12 still waits for 10.
	got = tableRun(t, tab, 16, idArgs(opLockRelease, 11))
	if st, tok := tab.State(14); got[0] != "R 2" || st != LockHeld || tok != 16 {
		t.Fatalf("release of 11: %q, request 14 %v token %d; want R 2 and 14 granted at 16", got, st, tok)
	}
	if st, _ := tab.State(12); st != LockWaiting {
		t.Fatalf("request 12 %v; want still waiting for 10", st)
	}
	// 10's lease ends: the writer 12 goes, then the reader 13 still waits.
	tableRun(t, tab, 17, idArgs(opLockExpire, 10))
	if st, tok := tab.State(12); st != LockHeld || tok != 17 {
		t.Fatalf("request 12 %v token %d; want granted at 17", st, tok)
	}
	if st, _ := tab.State(13); st != LockWaiting {
		t.Fatalf("request 13 %v; want waiting for the writer", st)
	}
	// The writer withdraws nothing (it holds): withdraw releases it.
	got = tableRun(t, tab, 18, idArgs(opLockWithdraw, 12), idArgs(opLockRelease, 12), idArgs(opLockWithdraw, 99))
	if want := []string{"R 1", "error " + ErrLockLost.Error(), "N"}; !slices.Equal(got, want) {
		t.Fatalf("replies %q; want %q", got, want)
	}
	if st, tok := tab.State(13); st != LockHeld || tok != 18 {
		t.Fatalf("request 13 %v token %d; want granted at 18", st, tok)
	}
}

func TestLockTableChecksWrites(t *testing.T) {
	tab := newLockTable()
	tableRun(t, tab, 5, lockArgs(true, 100, "x"), lockArgs(false, 100, "r"))
	x, r, free := [][]byte{[]byte("x")}, [][]byte{[]byte("r")}, [][]byte{[]byte("f")}
	for _, c := range []struct {
		names         [][]byte
		holder, token uint64
		want          error
	}{
		{free, 0, 0, nil},
		{x, 0, 0, ErrLocked},
		{r, 0, 0, ErrLocked},
		{x, 5, 0, nil},                     // the holder
		{r, 6, 0, ErrLockLost},             // a read lock does not write
		{x, 0, 5, nil},                     // fenced by the holder's token
		{x, 0, 4, ErrFenced},               // an older token
		{r, 0, 6, ErrLocked},               // a read-locked variable: writes wait
		{append(x, r...), 5, 0, ErrLocked}, // names the holder does not hold
	} {
		if err := tab.checkWrite(c.names, c.holder, c.token); !errors.Is(err, c.want) {
			t.Errorf("checkWrite(%q, holder %d, token %d) = %v; want %v", c.names, c.holder, c.token, err, c.want)
		}
	}
	tableRun(t, tab, 7, idArgs(opLockRelease, 5), lockArgs(true, 100, "x"))
	if err := tab.checkWrite(x, 0, 5); !errors.Is(err, ErrFenced) {
		t.Fatalf("the first holder's token after a second grant: %v; want ErrFenced", err)
	}
	if !tab.Blocked(x, false, 0, 0) || tab.Blocked(x, false, 8, 0) || tab.Blocked(r, false, 0, 0) || !tab.Blocked(r, true, 0, 0) {
		t.Fatal("Blocked: reads of a write-locked variable wait (but the holder's), reads of a read-locked one do not, writes do")
	}
}

func TestLockTableEncoding(t *testing.T) {
	tab := newLockTable()
	tableRun(t, tab, 1, lockArgs(true, 100, "a", "b"), lockArgs(false, 200, "b"), lockArgs(false, 300, "c"))
	b := tab.encode(9)
	d := decoder{b: b}
	back := decodeLockTable(&d, time.Now())
	if d.err != nil || len(d.b) != 0 {
		t.Fatalf("decode: %v, %d bytes left", d.err, len(d.b))
	}
	if again := back.encode(9); !bytes.Equal(again, b) {
		t.Fatal("the decoded table encodes differently")
	}
	if st, _ := back.State(2); st != LockWaiting || back.at != 9 || back.index != 3 {
		t.Fatalf("decoded: request 2 %v, at %d, index %d", st, back.at, back.index)
	}
	tableRun(t, back, 4, idArgs(opLockRelease, 1))
	if st, tok := back.State(2); st != LockHeld || tok != 4 {
		t.Fatalf("the decoded queue does not grant: %v %d", st, tok)
	}
	// The lock file round-trips, and a damaged one is refused.
	path := filepath.Join(t.TempDir(), "f.locks")
	if err := writeLockFile(path, tab); err != nil {
		t.Fatal(err)
	}
	read, err := readLockFile(path, time.Now())
	if err != nil || !bytes.Equal(read.encode(9), b) {
		t.Fatalf("lock file: %v", err)
	}
	if empty, err := readLockFile(path+".none", time.Now()); err != nil || !empty.Empty() {
		t.Fatalf("a missing lock file: %v", err)
	}
	corruptByte(t, path, 12)
	if _, err := readLockFile(path, time.Now()); !errors.Is(err, ErrBadSnapshot) {
		t.Fatalf("a damaged lock file: %v; want ErrBadSnapshot", err)
	}
}

func TestLockTableLeases(t *testing.T) {
	tab := newLockTable()
	t0 := time.Now()
	tab.apply(1, lockArgs(true, 1000, "x"), t0)
	tab.apply(2, lockArgs(true, 1000, "x"), t0) // waits 1000 ms (+ grace)
	ops, next := tab.due(t0.Add(999*time.Millisecond), time.Time{})
	if len(ops) != 0 || !next.Equal(t0.Add(time.Second)) {
		t.Fatalf("before the lease's end: %v, next %v", ops, next.Sub(t0))
	}
	ops, _ = tab.due(t0.Add(time.Second), time.Time{})
	if len(ops) != 1 || ops[0] != [2]string{opLockExpire, "1"} {
		t.Fatalf("at the lease's end: %v; want request 1 expired", ops)
	}
	// A leader since t0+500ms gives the lease its full length from then.
	ops, next = tab.due(t0.Add(time.Second), t0.Add(500*time.Millisecond))
	if len(ops) != 0 || !next.Equal(t0.Add(1500*time.Millisecond)) {
		t.Fatalf("new leader: %v, next %v; want the lease counted from the leadership", ops, next.Sub(t0))
	}
}

// The leader ends a wait it counted out with a lapse, proposed while the
// request waited; a release applied first grants it, and the lapse must
// not take back a grant its holder was told of. Likewise an expiry ends
// only a grant.
func TestLockTableLapseSparesAGrant(t *testing.T) {
	tab := newLockTable()
	t0 := time.Now()
	tab.apply(1, lockArgs(true, 60000, "x"), t0)
	tab.apply(2, lockArgs(true, 60000, "x"), t0) // waits 1000 ms (+ grace)
	ops, _ := tab.due(t0.Add(time.Second+waitGrace), time.Time{})
	if len(ops) != 1 || ops[0] != [2]string{opLockLapse, "2"} {
		t.Fatalf("at the wait's end: %v; want request 2 lapsed", ops)
	}
	got := tableRun(t, tab, 3,
		idArgs(opLockRelease, 1),                       // 3: grants 2
		[][]byte{[]byte(ops[0][0]), []byte(ops[0][1])}, // 4: the leader's lapse, late
		lockArgs(true, 60000, "x"),                     // 5: waits for 2
		idArgs(opLockExpire, 5),                        // 6: not a grant: nothing
		idArgs(opLockLapse, 5),                         // 7: ends the wait
	)
	if want := []string{"R 1", "N", "Q", "N", "W"}; !slices.Equal(got, want) {
		t.Fatalf("replies %q; want %q", got, want)
	}
	if st, tok := tab.State(2); st != LockHeld || tok != 3 {
		t.Fatalf("request 2 %v token %d; want still held with token 3", st, tok)
	}
	if st, _ := tab.State(5); st != LockGone {
		t.Fatalf("request 5 %v; want gone", st)
	}
}

func corruptByte(t *testing.T, path string, at int) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	b[at] ^= 0x40
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
}

// A forwarded write's lock error keeps its identity, as on the leader,
// and its text.
func TestCommandErrorKeepsLockErrors(t *testing.T) {
	for _, want := range []error{ErrLocked, ErrLockLost, ErrFenced} {
		text := fmt.Errorf("%w: %q", want, "x").Error()
		err := commandError(text)
		if !errors.Is(err, want) || !errors.Is(err, ErrCommand) || err.Error() != ErrCommand.Error()+": "+text {
			t.Errorf("commandError(%q) = %v; want %v inside ErrCommand, the text kept", text, err, want)
		}
	}
	if err := commandError("ERR value is not an integer"); !errors.Is(err, ErrCommand) || errors.Is(err, ErrLocked) {
		t.Errorf("a plain failed command: %v", err)
	}
}
