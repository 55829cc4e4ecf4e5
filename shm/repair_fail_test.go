//go:build dsmfail

package shm_test

import (
	"errors"
	"testing"
	"time"

	"github.com/dsm-dev/dsm/internal/childproc"
	"github.com/dsm-dev/dsm/shm"
)

func init() {
	// repair runs Repair with the failure point named in arg armed, and
	// fails if it returns (the point was to kill it).
	helperRoles["repair"] = func(m *shm.Memory, arg string) error {
		shm.ArmFailpoint(arg, 1)
		repaired, remains := m.Repair()
		return errors.Join(errors.New("Repair returned"), repaired, remains)
	}
}

// TestRepairKilled: a process killed in the middle of Repair's rebuild
// (the index cleared, nothing placed) leaves the rebuild to the next taker
// of the index lock, and a second process killed in the middle of that
// rebuild too leaves it again: afterwards Repair finds the file sound,
// with every variable and room for new ones. (dsmd runs Repair at start;
// this is dsmd dying, twice, while it repairs.)
func TestRepairKilled(t *testing.T) {
	m := damaged(t, func(l bodyLayout, data []byte) {
		le.PutUint32(data[ctlFreeHead:], 0)
		le.PutUint32(data[l.entry(l.entryOf(t, data, l.slotNamed(t, data, "x"))):], 0)
	})
	path := m.Path()
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		waitKilled(t, childproc.Start(t, "repair", path, shm.FailRebuilding))
	}
	m = openMem(t, shm.Config{Path: path})
	if repaired, remains := m.Repair(); repaired != nil || remains != nil {
		t.Errorf("Repair after the kills: repaired %v, left %v; want the takeover to have rebuilt all", repaired, remains)
	}
	wantValue(t, m, "x", shm.Int(42), 0)
	wantValue(t, m, "s", shm.Bytes(b("hello")), 0)
	mustSet(t, m, "new1", shm.Int(1))
	mustSet(t, m, "new2", shm.Int(2))
	if err := m.Check(); err != nil {
		t.Errorf("Check: %v", err)
	}
}

// TestRebuildIsAChange: while Repair rebuilds an index whose sequence was
// left odd, a lookup without locks in another attachment must not take
// the half-built index for the truth: it waits for the rebuild and finds
// the variable, rather than calling it missing.
func TestRebuildIsAChange(t *testing.T) {
	m := damaged(t, func(l bodyLayout, data []byte) {
		le.PutUint64(data[3*pageSize+64:], 5)
	})
	other := openMem(t, shm.Config{Path: m.Path()})
	type result struct {
		v   shm.Value
		err error
	}
	got := make(chan result, 1)
	early := make(chan result, 1)
	remove := shm.SetFailHook(shm.FailRebuilding, func() {
		go func() {
			v, _, err := other.Get(b("x"))
			got <- result{v, err}
		}()
		select {
		case r := <-got:
			early <- r
		case <-time.After(200 * time.Millisecond):
		}
	})
	defer remove()
	if _, remains := m.Repair(); remains != nil {
		t.Fatalf("Repair left %v", remains)
	}
	remove()
	var r result
	select {
	case r = <-early:
		t.Errorf("a lookup during the rebuild returned before it: %v, %v", r.v, r.err)
	case r = <-got:
	}
	if r.err != nil || !r.v.Equal(shm.Int(42)) {
		t.Errorf("Get during the rebuild = %v, %v; want 42", r.v, r.err)
	}
}
