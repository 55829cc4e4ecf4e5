package shm_test

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/dsm-dev/dsm/shm"
)

// TestFeedSeesChangesFromAnotherOpen: a feed on one open of the file reports
// changes made through another open (as another process would), ending on
// each variable's final value, with deletions as not found.
func TestFeedSeesChangesFromAnotherOpen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "feed.mem")
	a, err := shm.Open(shm.Config{Path: path, Vars: 512})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	b, err := shm.Open(shm.Config{Path: path})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	a.Set([]byte("gone"), shm.Int(1))
	f, err := a.Feed()
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()

	// More changes than the ring holds, so the rescan path runs too.
	const n = 1000
	done := make(chan error, 1)
	go func() {
		for i := 1; i <= n; i++ {
			if _, err := b.Set([]byte(fmt.Sprint("v", i%50)), shm.Int(int64(i))); err != nil {
				done <- err
				return
			}
		}
		_, err := b.Delete([]byte("gone"))
		done <- err
	}()
	last := map[string]shm.Item{}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	want := map[string]int64{}
	for i := n - 49; i <= n; i++ {
		want[fmt.Sprint("v", i%50)] = int64(i)
	}
	for !feedDone(last, want) {
		changes, err := f.Next(ctx)
		if err != nil {
			t.Fatalf("Next: %v (got %d of %d variables)", err, len(last), len(want)+1)
		}
		for _, c := range changes {
			if prev, ok := last[string(c.Name)]; ok && c.Item.Version <= prev.Version {
				t.Fatalf("%s: version %d after %d", c.Name, c.Item.Version, prev.Version)
			}
			last[string(c.Name)] = c.Item
		}
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

func feedDone(last map[string]shm.Item, want map[string]int64) bool {
	for name, v := range want {
		it, ok := last[name]
		if n, _ := it.Value.Int(); !ok || n != v {
			return false
		}
	}
	g, ok := last["gone"]
	return ok && !g.Found
}
