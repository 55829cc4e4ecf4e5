package webview

import (
	"fmt"
	"testing"

	"github.com/dsm-dev/dsm/internal/glob"
)

func testPage(t *testing.T, limit int, pattern string) *page {
	t.Helper()
	var g *glob.Pattern
	if pattern != "" {
		var err error
		if g, err = glob.Compile([]byte(pattern), false, 100); err != nil {
			t.Fatal(err)
		}
	}
	return newPage(g, limit)
}

// TestPageCoalesces: many changes of one variable leave one pending
// update, the latest; the page is woken once.
func TestPageCoalesces(t *testing.T) {
	p := testPage(t, 10, "")
	for i := range 10000 {
		p.offer([]varUpdate{{Name: "x", Value: fmt.Sprint(i), Version: uint64(i + 1)}})
	}
	if len(p.wake) != 1 {
		t.Errorf("%d wake signals pending, want 1", len(p.wake))
	}
	ups := p.take()
	if len(ups) != 1 || ups[0].Value != "9999" || ups[0].Version != 10000 {
		t.Fatalf("take = %+v; want the latest of x alone", ups)
	}
	if ups := p.take(); len(ups) != 0 {
		t.Fatalf("second take = %+v; want nothing", ups)
	}
}

// TestPageBounded: a page keeps changes of the variables it shows, and
// of new ones while it shows fewer than its limit, so its pending changes
// never exceed the limit, however many variables change.
func TestPageBounded(t *testing.T) {
	p := testPage(t, 10, "")
	p.listed([]string{"v0", "v1", "v2"})
	var ups []varUpdate
	for i := range 50 {
		ups = append(ups, varUpdate{Name: fmt.Sprint("v", i)})
	}
	p.offer(ups)
	got := p.take()
	if len(got) != 10 {
		t.Fatalf("%d updates kept, want the limit, 10", len(got))
	}
	names := map[string]bool{}
	for _, u := range got {
		names[u.Name] = true
	}
	for _, n := range []string{"v0", "v1", "v2", "v9"} {
		if !names[n] {
			t.Errorf("%s not kept: %v", n, names)
		}
	}
	p.offer([]varUpdate{{Name: "v20"}, {Name: "v1", Value: "x"}})
	if got := p.take(); len(got) != 1 || got[0].Name != "v1" {
		t.Fatalf("after the page is full: %+v; want v1 alone", got)
	}
}

// TestPageFilters: only the variables the page's glob matches are kept.
func TestPageFilters(t *testing.T) {
	p := testPage(t, 10, "job.*")
	p.offer([]varUpdate{{Name: "job.1"}, {Name: "other"}, {Name: "job.2"}})
	got := p.take()
	if len(got) != 2 {
		t.Fatalf("%d updates kept, want job.1 and job.2: %+v", len(got), got)
	}
	<-p.wake
	p.offer([]varUpdate{{Name: "other"}})
	if len(p.wake) != 0 {
		t.Error("a change the page does not show woke it")
	}
}
