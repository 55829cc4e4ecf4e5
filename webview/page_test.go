package webview

import (
	"fmt"
	"testing"

	"github.com/dsm-dev/dsm/internal/glob"
)

func newPage(t *testing.T, limit int, pattern string) *page {
	t.Helper()
	p := &page{limit: limit, wake: make(chan struct{}, 1), pending: map[string]varUpdate{}}
	if pattern != "" {
		g, err := glob.Compile([]byte(pattern), false, 100)
		if err != nil {
			t.Fatal(err)
		}
		p.match = g
	}
	return p
}

// TestPageCoalesces: many changes of one variable leave one pending
// update, the latest; the page is woken once.
func TestPageCoalesces(t *testing.T) {
	p := newPage(t, 10, "")
	for i := range 10000 {
		p.offer([]varUpdate{{Name: "x", Value: fmt.Sprint(i), Version: uint64(i + 1)}})
	}
	if len(p.wake) != 1 {
		t.Errorf("%d wake signals pending, want 1", len(p.wake))
	}
	ups, overflow := p.take()
	if overflow || len(ups) != 1 || ups[0].Value != "9999" || ups[0].Version != 10000 {
		t.Fatalf("take = %+v, %v; want the latest of x alone", ups, overflow)
	}
	if ups, overflow := p.take(); len(ups) != 0 || overflow {
		t.Fatalf("second take = %+v, %v; want nothing", ups, overflow)
	}
}

// TestPageOverflow: more changed variables than the limit drop the
// pending changes and ask for a fresh listing, so a page's pending map
// never exceeds the limit.
func TestPageOverflow(t *testing.T) {
	p := newPage(t, 10, "")
	var ups []varUpdate
	for i := range 50 {
		ups = append(ups, varUpdate{Name: fmt.Sprint("v", i)})
	}
	p.offer(ups)
	if n := len(p.pending); n > 10 {
		t.Fatalf("%d pending, more than the limit", n)
	}
	got, overflow := p.take()
	if !overflow || len(got) != 0 {
		t.Fatalf("take = %d updates, overflow %v; want none and a fresh listing", len(got), overflow)
	}
	p.offer(ups[:3])
	if got, overflow := p.take(); overflow || len(got) != 3 {
		t.Fatalf("after the listing: %d updates, overflow %v; want 3", len(got), overflow)
	}
}

// TestPageFilters: only the variables the page's glob matches are kept.
func TestPageFilters(t *testing.T) {
	p := newPage(t, 10, "job.*")
	p.offer([]varUpdate{{Name: "job.1"}, {Name: "other"}, {Name: "job.2"}})
	got, _ := p.take()
	if len(got) != 2 {
		t.Fatalf("%d updates kept, want job.1 and job.2: %+v", len(got), got)
	}
	<-p.wake
	p.offer([]varUpdate{{Name: "other"}})
	if len(p.wake) != 0 {
		t.Error("a change the page does not show woke it")
	}
}
