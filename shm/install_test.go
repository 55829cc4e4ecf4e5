package shm_test

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dsm-dev/dsm/internal/childproc"
	"github.com/dsm-dev/dsm/shm"
)

// installCfg has room for more variables than one group (GroupMax) holds,
// and a fixed seed, so that images move between its files.
var installCfg = shm.Config{Vars: 64, Procs: 8, Lanes: 4, GroupMax: 4, Seed: 0x1a57}

// dumpOf returns every variable of m as "value@version" ("i:" before an
// integer's text), by Scan and Get.
func dumpOf(t testing.TB, m *shm.Memory) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, v := range imageOf(t, m).Vars {
		out[string(v.Name)] = varText(v.Value, v.Version)
	}
	return out
}

func varText(v shm.Value, ver uint64) string {
	kind := "b:"
	if v.IsInt() {
		kind = "i:"
	}
	return kind + v.String() + "@" + strconv.FormatUint(ver, 10)
}

// imageOf copies m's variables into an Image of m's file.
func imageOf(t testing.TB, m *shm.Memory) shm.Image {
	t.Helper()
	l := m.Limits()
	img := shm.Image{Seed: m.Seed(), Capacity: l.Capacity, NameMax: l.NameMax, ValueMax: l.ValueMax, GroupMax: l.GroupMax}
	var names [][]byte
	if _, err := m.Scan(0, func(name []byte, _ uint64) bool {
		names = append(names, slices.Clone(name))
		return true
	}); err != nil {
		t.Fatal(err)
	}
	for _, n := range names {
		v, ver, err := m.Get(n)
		if err != nil {
			t.Fatalf("Get(%q): %v", n, err)
		}
		img.Vars = append(img.Vars, shm.ImageVar{Name: n, Value: v, Version: ver})
	}
	return img
}

// emptyImage is an image of m's file with no variables.
func emptyImage(m *shm.Memory) shm.Image {
	l := m.Limits()
	return shm.Image{Seed: m.Seed(), Capacity: l.Capacity, NameMax: l.NameMax, ValueMax: l.ValueMax, GroupMax: l.GroupMax}
}

func newInstallMem(t *testing.T, name string) *shm.Memory {
	t.Helper()
	cfg := installCfg
	cfg.Path = filepath.Join(t.TempDir(), name)
	return openMem(t, cfg)
}

// TestInstallExact installs one file's image over another that holds
// variables of higher, lower and equal versions, other values and other
// names: afterwards a dump of each, versions included, is the same, the
// target is sound, and the redo log got a record of each change.
func TestInstallExact(t *testing.T) {
	src := newInstallMem(t, "src")
	dst := newInstallMem(t, "dst")
	for i := range 5 {
		mustSet(t, src, "up", shm.Int(int64(i)))   // 5: dst is behind
		mustSet(t, dst, "down", shm.Int(int64(i))) // 5: dst is ahead
	}
	mustSet(t, src, "down", shm.Bytes(b("src")))
	mustSet(t, src, "same", shm.Bytes(b("v")))
	mustSet(t, dst, "same", shm.Bytes(b("v")))
	mustSet(t, src, "twin", shm.Bytes(b("src"))) // same version, other value
	mustSet(t, dst, "twin", shm.Bytes(b("dst")))
	mustSet(t, dst, "up", shm.Int(-1))
	mustSet(t, src, "int", shm.Int(7))
	mustSet(t, dst, "int", shm.Bytes(b("7"))) // same text, other kind
	mustSet(t, src, "new", shm.Bytes(b("only in src")))
	mustSet(t, dst, "gone", shm.Int(1))
	mustSet(t, dst, "gone2", shm.Int(2))

	rec := &recorder{}
	dst.SetRedoLog(rec)
	want := dumpOf(t, src)
	if err := dst.Install(context.Background(), imageOf(t, src)); err != nil {
		t.Fatal(err)
	}
	if got := dumpOf(t, dst); !maps.Equal(got, want) {
		t.Errorf("after Install the target holds\n%v\nthe image\n%v", got, want)
	}
	wantMissing(t, dst, "gone")
	if err := dst.Check(); err != nil {
		t.Errorf("Check after Install: %v", err)
	}
	// One call; "same" was left alone; two deletes.
	var names []string
	deletes := 0
	for _, r := range rec.records() {
		names = append(names, string(r.Name))
		deletes += b2i(r.Deleted)
	}
	if len(rec.calls) != 1 || slices.Contains(names, "same") || deletes != 2 || len(names) != 7 {
		t.Errorf("redo log got %d calls of %v (%d deletes), want 1 call of 7 records without \"same\", 2 deletes", len(rec.calls), names, deletes)
	}
	// Installing the same image again changes nothing.
	if err := dst.Install(context.Background(), imageOf(t, src)); err != nil {
		t.Fatal(err)
	}
	if got := dumpOf(t, dst); !maps.Equal(got, want) {
		t.Errorf("after a second Install the target holds %v", got)
	}
	// The file goes on: variables created afterwards, and reopened.
	mustSet(t, dst, "after", shm.Int(1))
	wantValue(t, dst, "up", shm.Int(4), 5)
}

func b2i(ok bool) int {
	if ok {
		return 1
	}
	return 0
}

// TestInstallBig installs an image of more variables than a group holds
// (GroupMax) over a file full of others, and then the empty image.
func TestInstallBig(t *testing.T) {
	m := newInstallMem(t, "mem")
	for i := range 40 {
		mustSet(t, m, fmt.Sprint("old", i), shm.Int(int64(i)))
	}
	img := emptyImage(m)
	for i := range 60 {
		img.Vars = append(img.Vars, shm.ImageVar{Name: b(fmt.Sprint("v", i)), Value: shm.Bytes(letters(int64(i), 100)), Version: uint64(3 + i)})
	}
	if err := m.Install(context.Background(), img); err != nil {
		t.Fatal(err)
	}
	if n := m.Len(); n != 60 {
		t.Errorf("%d variables after installing 60, want 60", n)
	}
	for i := range 60 {
		wantValue(t, m, fmt.Sprint("v", i), shm.Bytes(letters(int64(i), 100)), uint64(3+i))
	}
	wantMissing(t, m, "old0")
	if err := m.Check(); err != nil {
		t.Errorf("Check: %v", err)
	}
	if err := m.Install(context.Background(), emptyImage(m)); err != nil {
		t.Fatal(err)
	}
	if n := m.Len(); n != 0 {
		t.Errorf("%d variables after installing the empty image", n)
	}
	if err := m.Check(); err != nil {
		t.Errorf("Check: %v", err)
	}
}

// TestInstallRefused: an image of another seed or capacities, or a
// malformed one, is refused and changes nothing.
func TestInstallRefused(t *testing.T) {
	m := newInstallMem(t, "mem")
	mustSet(t, m, "a", shm.Int(1))
	good := imageOf(t, m)
	good.Vars[0].Version = 9
	cases := map[string]func(img *shm.Image){
		"seed":       func(img *shm.Image) { img.Seed++ },
		"capacity":   func(img *shm.Image) { img.Capacity++ },
		"value max":  func(img *shm.Image) { img.ValueMax-- },
		"group max":  func(img *shm.Image) { img.GroupMax++ },
		"twice":      func(img *shm.Image) { img.Vars = append(img.Vars, img.Vars[0]) },
		"version 0":  func(img *shm.Image) { img.Vars[0].Version = 0 },
		"no value":   func(img *shm.Image) { img.Vars[0].Value = shm.Value{} },
		"empty name": func(img *shm.Image) { img.Vars[0].Name = nil },
		"too large":  func(img *shm.Image) { img.Vars[0].Value = shm.Bytes(make([]byte, img.ValueMax+1)) },
		"too many": func(img *shm.Image) {
			for i := range 64 {
				img.Vars = append(img.Vars, shm.ImageVar{Name: b(fmt.Sprint("x", i)), Value: shm.Int(1), Version: 1})
			}
		},
	}
	for name, spoil := range cases {
		img := good
		img.Vars = slices.Clone(good.Vars)
		spoil(&img)
		wantErr(t, name, m.Install(context.Background(), img), shm.ErrImage)
	}
	wantValue(t, m, "a", shm.Int(1), 1)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	g, err := m.Lock(context.Background(), [][]byte{b("a")}, true, false)
	if err != nil {
		t.Fatal(err)
	}
	wantErr(t, "Install while a group holds a lock, ctx over", m.Install(ctx, good), context.Canceled)
	g.Unlock()
	wantValue(t, m, "a", shm.Int(1), 1)
	mustSet(t, m, "b", shm.Int(2)) // every lock was let go
}

// pairImage is round k of the reader tests: pairs p0..p(n-1), each of two
// variables with one value, letters(k); pair k%n is left out (deleted), and
// versions jump up and down from round to round, so that some rounds
// replace variables in a new incarnation.
func pairImage(m *shm.Memory, n int, k int64) shm.Image {
	img := emptyImage(m)
	for p := range n {
		if int64(p) == k%int64(n) {
			continue
		}
		ver := uint64(1 + (k*7+int64(p))%13)
		for _, side := range []string{"a", "b"} {
			img.Vars = append(img.Vars, shm.ImageVar{Name: b(fmt.Sprintf("p%d%s", p, side)), Value: shm.Bytes(letters(k, 200)), Version: ver})
		}
	}
	return img
}

const pairs = 6

// checkPairs reads every pair with MGet and returns what it saw if the two
// were not alike: both missing, or both one value.
func checkPairs(m *shm.Memory) (string, error) {
	for p := range pairs {
		items, err := m.MGet([][]byte{b(fmt.Sprintf("p%da", p)), b(fmt.Sprintf("p%db", p))})
		if err != nil {
			return "", err
		}
		x, y := items[0], items[1]
		if x.Found != y.Found || (x.Found && !x.Value.Equal(y.Value)) || (x.Found && !uniform(x.Value.AppendText(nil), 200)) {
			return fmt.Sprintf("pair %d: %v (%v) and %v (%v)", p, x.Value, x.Found, y.Value, y.Found), nil
		}
	}
	return "", nil
}

// TestInstallReadersNeverMix installs images in a loop while goroutines
// read every pair with MGet: no read sees one variable of a pair from one
// image and the other from another, or a torn value.
func TestInstallReadersNeverMix(t *testing.T) {
	m := newInstallMem(t, "mem")
	snapshotRace(t, 8, time.Second, func(k int64) bool {
		if err := m.Install(context.Background(), pairImage(m, pairs, k)); err != nil {
			t.Error(err)
			return false
		}
		return true
	}, func() (string, bool) {
		saw, err := checkPairs(m)
		if err != nil {
			t.Error(err)
			return "", false
		}
		return saw, true
	})
	if err := m.Check(); err != nil {
		t.Errorf("Check: %v", err)
	}
}

func init() {
	// pair-reader checks the pairs with MGet for the duration in arg and
	// prints how many rounds it made.
	helperRoles["pair-reader"] = func(m *shm.Memory, arg string) error {
		d, err := time.ParseDuration(arg)
		if err != nil {
			return err
		}
		fmt.Println("ready")
		n := 0
		for end := time.Now().Add(d); time.Now().Before(end); n++ {
			saw, err := checkPairs(m)
			if err != nil {
				return err
			}
			if saw != "" {
				return fmt.Errorf("a read saw %s", saw)
			}
		}
		fmt.Println(n)
		return nil
	}
	// install-loop installs pair images from round 1 on until it is
	// killed.
	helperRoles["install-loop"] = func(m *shm.Memory, _ string) error {
		for k := int64(1); ; k++ {
			if err := m.Install(context.Background(), pairImage(m, pairs, k)); err != nil {
				return err
			}
			if k == 1 {
				fmt.Println("ready")
			}
		}
	}
}

// TestInstallReaderProcess: a second process reading the pairs never sees
// a mix while this one installs.
func TestInstallReaderProcess(t *testing.T) {
	m := newInstallMem(t, "mem")
	if err := m.Install(context.Background(), pairImage(m, pairs, 0)); err != nil {
		t.Fatal(err)
	}
	c := childproc.Start(t, "pair-reader", m.Path(), "1s")
	c.Expect(t, "ready")
	done := make(chan error, 1)
	var out []string
	go func() {
		for c.Out.Scan() {
			out = append(out, c.Out.Text())
		}
		done <- c.Cmd.Wait()
	}()
	rounds := 0
	for k := int64(1); ; k++ {
		select {
		case err := <-done:
			if err != nil {
				t.Fatalf("reader: %v; stderr:\n%s", err, c.Stderr)
			}
			t.Logf("%d installs; the reader made %s rounds", rounds, strings.Join(out, " "))
			if rounds < 10 {
				t.Errorf("only %d installs ran", rounds)
			}
			return
		default:
		}
		if err := m.Install(context.Background(), pairImage(m, pairs, k)); err != nil {
			t.Fatal(err)
		}
		rounds++
	}
}

// TestKillDuringInstall kills a process that installs pair images in a
// loop, at random instants: the next Open either finds one image whole
// or reports ErrInstallIncomplete, and then an Install through a Memory
// opened with AllowIncomplete completes the file.
func TestKillDuringInstall(t *testing.T) {
	m := newInstallMem(t, "mem")
	path := m.Path()
	m.Close()
	cfg := installCfg
	cfg.Path = path
	incomplete := 0
	for round := range killRounds {
		c := childproc.Start(t, "install-loop", path, "")
		c.Expect(t, "ready")
		killAtRandom(t, c)
		m, err := shm.Open(cfg)
		if err == nil {
			checkPairImage(t, m)
			m.Close()
			continue
		}
		if !errors.Is(err, shm.ErrInstallIncomplete) {
			t.Fatalf("round %d: Open after the kill: %v", round, err)
		}
		incomplete++
		completeInstall(t, cfg)
	}
	t.Logf("%d of %d kills left an incomplete install", incomplete, killRounds)
}

// checkPairImage fails unless m holds exactly one pair image.
func checkPairImage(t *testing.T, m *shm.Memory) {
	t.Helper()
	v, _, err := m.Get(b("p0a"))
	if err != nil {
		v, _, err = m.Get(b("p1a"))
	}
	if err != nil {
		t.Fatalf("neither p0a nor p1a: %v", err)
	}
	got := dumpOf(t, m)
	for k := int64(v.String()[0] - 'A'); k < 1<<20; k += 26 {
		want := map[string]string{}
		for _, iv := range pairImage(m, pairs, k).Vars {
			want[string(iv.Name)] = varText(iv.Value, iv.Version)
		}
		if maps.Equal(got, want) {
			return
		}
	}
	t.Fatalf("the file holds no one image: %v", got)
}

// completeInstall opens an incompletely installed file with
// AllowIncomplete, installs an image and checks that the file is whole
// and opens normally again.
func completeInstall(t *testing.T, cfg shm.Config) {
	t.Helper()
	allow := cfg
	allow.AllowIncomplete = true
	m, err := shm.Open(allow)
	if err != nil {
		t.Fatal(err)
	}
	if !m.Incomplete() {
		t.Error("Incomplete is false on a file Open refused as incomplete")
	}
	img := pairImage(m, pairs, 1)
	if err := m.Install(context.Background(), img); err != nil {
		t.Fatal(err)
	}
	if m.Incomplete() {
		t.Error("Incomplete is still true after an Install")
	}
	m.Close()
	m = openMem(t, cfg)
	checkPairImage(t, m)
	if err := m.Check(); err != nil {
		t.Errorf("Check after the install was completed: %v", err)
	}
	m.Close()
}

// TestFlush removes every variable at once, wakes their waiters and feeds,
// logs the deletes, and leaves a sound, usable file.
func TestFlush(t *testing.T) {
	m := newInstallMem(t, "mem")
	for i := range 10 {
		mustSet(t, m, fmt.Sprint("v", i), shm.Int(int64(i)))
	}
	f, err := m.Feed()
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rec := &recorder{}
	m.SetRedoLog(rec)
	var wg sync.WaitGroup
	errs := make(chan error, 3)
	for i := range 3 {
		wg.Go(func() {
			_, err := m.Wait(context.Background(), b(fmt.Sprint("v", i)), 1000)
			errs <- err
		})
	}
	time.Sleep(50 * time.Millisecond) // let the waiters sleep
	n, err := m.Flush(context.Background())
	if err != nil || n != 10 {
		t.Fatalf("Flush = %d, %v; want 10 removed", n, err)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		wantErr(t, "a waiter woken by Flush", err, shm.ErrNotFound)
	}
	if got := m.Len(); got != 0 {
		t.Errorf("%d variables after Flush", got)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	gone := map[string]bool{}
	for len(gone) < 10 {
		changes, err := f.Next(ctx)
		if err != nil {
			t.Fatalf("feed after Flush: %v (saw %d deletes)", err, len(gone))
		}
		for _, c := range changes {
			if c.Item.Found {
				t.Errorf("feed reports %s with a value after Flush", c.Name)
			}
			gone[string(c.Name)] = true
		}
	}
	if recs := rec.records(); len(rec.calls) != 1 || len(recs) != 10 || !recs[0].Deleted {
		t.Errorf("redo log got %d calls, %d records; want one call of 10 deletes", len(rec.calls), len(recs))
	}
	if err := m.Check(); err != nil {
		t.Errorf("Check after Flush: %v", err)
	}
	mustSet(t, m, "v1", shm.Int(5))
	if n, err := m.Flush(context.Background()); n != 1 || err != nil {
		t.Errorf("second Flush = %d, %v; want 1", n, err)
	}
	if _, err := os.Stat(m.Path()); err != nil {
		t.Fatal(err)
	}
}

// TestInstallFeedSeesLowerVersion: a feed reports a variable that an
// Install replaced with a lower version (a new incarnation).
func TestInstallFeedSeesLowerVersion(t *testing.T) {
	m := newInstallMem(t, "mem")
	for i := range 5 {
		mustSet(t, m, "x", shm.Int(int64(i)))
	}
	f, err := m.Feed()
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img := emptyImage(m)
	img.Vars = []shm.ImageVar{{Name: b("x"), Value: shm.Int(100), Version: 2}}
	if err := m.Install(context.Background(), img); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	changes, err := f.Next(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(changes) != 1 || string(changes[0].Name) != "x" || changes[0].Item.Version != 2 || !changes[0].Item.Value.Equal(shm.Int(100)) {
		t.Errorf("feed reported %+v, want x = 100 at version 2", changes)
	}
	wantValue(t, m, "x", shm.Int(100), 2)
}
