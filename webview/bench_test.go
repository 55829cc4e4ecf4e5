package webview_test

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/dsm-dev/dsm/server"
	"github.com/dsm-dev/dsm/webview"
)

// Load of BenchmarkLiveViewLoad.
const (
	loadRate     = 10_000 // changes a second
	loadVars     = 1_000  // variables they spread over
	loadPipeline = 100    // SETs per batch: a batch every 10 ms
	probeConns   = 4      // connections of the throughput probe
	probeDepth   = 32     // GETs each probe connection pipelines
	heapBound    = 64 << 20
)

// loadDuration is each phase's length: DSM_WEB_LOAD when set, else 10 s,
// or 2 s when the benchmark runs once as a smoke test (-benchtime 1x,
// scripts/test).
func loadDuration(b *testing.B) time.Duration {
	if s := os.Getenv("DSM_WEB_LOAD"); s != "" {
		d, err := time.ParseDuration(s)
		if err != nil {
			b.Fatalf("DSM_WEB_LOAD: %v", err)
		}
		return d
	}
	if f := flag.Lookup("test.benchtime"); f != nil && f.Value.String() == "1x" {
		return 2 * time.Second
	}
	return 10 * time.Second
}

// loadRounds is DSM_WEB_ROUNDS, else 3, or 1 for a smoke test.
func loadRounds(b *testing.B) int {
	if s := os.Getenv("DSM_WEB_ROUNDS"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 {
			b.Fatalf("DSM_WEB_ROUNDS: %q", s)
		}
		return n
	}
	if f := flag.Lookup("test.benchtime"); f != nil && f.Value.String() == "1x" && os.Getenv("DSM_WEB_LOAD") == "" {
		return 1
	}
	return 3
}

func median(xs []float64) float64 {
	s := slices.Clone(xs)
	slices.Sort(s)
	return s[len(s)/2]
}

// BenchmarkLiveViewLoad: a writer makes 10,000 changes a second (SETs
// over 1,000 variables) while a probe measures the daemon's throughput
// (pipelined GETs on 4 connections), first with no page open, then with
// two event streams read by Go clients (what serving the view costs the
// daemon), then with two pages open in Chromium (which also takes the
// machine's CPU), in alternating rounds. It reports the probe's median
// throughput in each phase, the drops, and the most JavaScript heap the
// pages used (sampled every second) and kept after a garbage collection;
// a heap beyond 64 MiB fails it.
func BenchmarkLiveViewLoad(b *testing.B) {
	d := loadDuration(b)
	ctx1 := newBrowser(b, chromedp.Flag("enable-precise-memory-info", true), chromedp.Flag("js-flags", "--expose-gc"))
	ctx2, cancel := chromedp.NewContext(ctx1)
	defer cancel()
	if err := chromedp.Do(ctx2); err != nil {
		b.Fatal(err)
	}
	rounds := loadRounds(b)
	for b.Loop() {
		s := startSite(b, server.Config{Vars: 4096}, webview.Config{})
		c := s.dial(b)
		c.send(b, "SET probe 1")
		c.line(b)
		heap := &heapWatch{}
		var alone, streamed, watched []float64
		changeRate := float64(loadRate)
		// The phases alternate, round after round, so that a change of the
		// machine's load (it is shared) touches each alike; medians are kept.
		for range rounds {
			r := runLoad(b, s, d, nil)
			alone = append(alone, r.probeRate)
			r = runLoad(b, s, d, nil, s.url()+"events", s.url()+"events")
			streamed = append(streamed, r.probeRate)
			for _, ctx := range []context.Context{ctx1, ctx2} {
				do(b, ctx, "loading a page", chromedp.Navigate(s.url()))
				waitFor(b, ctx, "the page to be live", `document.body.dataset.status === "live"`)
			}
			r = runLoad(b, s, d, func() { heap.sample(b, ctx1, ctx2) })
			watched = append(watched, r.probeRate)
			changeRate = min(changeRate, r.changeRate)
			for _, ctx := range []context.Context{ctx1, ctx2} {
				waitFor(b, ctx, "the last change shown", cellOf("load.0", "value")+` === `+jsString(strconv.FormatInt(r.lastValue, 10)))
			}
			heap.kept = max(heap.kept, heap.afterGC(b, ctx1, ctx2))
			for _, ctx := range []context.Context{ctx1, ctx2} {
				do(b, ctx, "closing the page", chromedp.Navigate("about:blank"))
			}
		}
		a, st, w := median(alone), median(streamed), median(watched)
		dropStreams, dropPages := 100*(1-st/a), 100*(1-w/a)
		b.ReportMetric(changeRate, "changes/s")
		b.ReportMetric(a, "probe-ops/s-no-page")
		b.ReportMetric(st, "probe-ops/s-2-streams")
		b.ReportMetric(w, "probe-ops/s-2-pages")
		b.ReportMetric(dropStreams, "drop-2-streams-%")
		b.ReportMetric(dropPages, "drop-2-pages-%")
		b.ReportMetric(float64(heap.most)/(1<<20), "page-heap-max-MiB")
		b.ReportMetric(float64(heap.kept)/(1<<20), "page-heap-kept-MiB")
		b.Logf("%d rounds of %v per phase, at least %.0f changes/s; probe ops/s (medians): %.0f with no page, %.0f with two streams read by Go (%.1f%% less), "+
			"%.0f with two pages in Chromium on this machine (%.1f%% less); the pages' heap at most %.1f MiB, %.1f MiB after GC",
			rounds, d, changeRate, a, st, dropStreams, w, dropPages, float64(heap.most)/(1<<20), float64(heap.kept)/(1<<20))
		if heap.most > heapBound {
			b.Errorf("a page's JavaScript heap reached %d bytes, beyond the bound of %d", heap.most, heapBound)
		}
		s.stop()
	}
}

// loadResult is one phase's figures.
type loadResult struct {
	changeRate, probeRate float64
	lastValue             int64 // load.0's last value
}

// runLoad runs the writer and the probe for d, calling every (if set)
// each second, with a Go client reading the event stream at each of
// streams meanwhile.
func runLoad(b *testing.B, s *site, d time.Duration, every func(), streams ...string) loadResult {
	var wg sync.WaitGroup
	var probed atomic.Int64
	stop := make(chan struct{})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	for _, u := range streams {
		req, _ := http.NewRequestWithContext(ctx, "GET", u, nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		defer resp.Body.Close()
		go io.Copy(io.Discard, resp.Body)
	}
	start := time.Now()
	for range probeConns {
		wg.Go(func() { probe(b, s.addr, stop, &probed) })
	}
	var changes, last int64
	wg.Go(func() { changes, last = write(b, s.addr, stop) })
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	end := time.After(d)
loop:
	for {
		select {
		case <-tick.C:
			if every != nil {
				every()
			}
		case <-end:
			break loop
		}
	}
	close(stop)
	secs := time.Since(start).Seconds()
	wg.Wait()
	return loadResult{changeRate: float64(changes) / secs, probeRate: float64(probed.Load()) / secs, lastValue: last}
}

// write SETs load.0..load.999 in turn at loadRate, in a pipelined batch
// every 10 ms (larger when it fell behind), until stopped; it returns the
// SETs made and the last value of load.0.
func write(b *testing.B, addr string, stop <-chan struct{}) (int64, int64) {
	nc, br := dialLoad(b, addr)
	defer nc.Close()
	tick := time.NewTicker(time.Second * loadPipeline / loadRate)
	defer tick.Stop()
	var n, last int64
	var batch strings.Builder
	start := time.Now()
	for {
		select {
		case <-stop:
			return n, last
		case <-tick.C:
		}
		batch.Reset()
		due := min(int64(time.Since(start).Seconds()*loadRate)-n, 10*loadPipeline)
		for range due {
			v := n/loadVars + 1
			if n%loadVars == 0 {
				last = v
			}
			fmt.Fprintf(&batch, "SET load.%d %d\r\n", n%loadVars, v)
			n++
		}
		nc.Write([]byte(batch.String()))
		if !readLines(b, nc, br, int(due)) {
			return n, last
		}
	}
}

// probe pipelines GETs until stopped, counting them.
func probe(b *testing.B, addr string, stop <-chan struct{}, count *atomic.Int64) {
	nc, br := dialLoad(b, addr)
	defer nc.Close()
	req := []byte(strings.Repeat("GET probe\r\n", probeDepth))
	for {
		select {
		case <-stop:
			return
		default:
		}
		nc.Write(req)
		if !readLines(b, nc, br, probeDepth*2) { // "$1" and the value
			return
		}
		count.Add(probeDepth)
	}
}

func dialLoad(b *testing.B, addr string) (net.Conn, *bufio.Reader) {
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		b.Fatal(err)
	}
	return nc, bufio.NewReaderSize(nc, 64<<10)
}

// readLines reads n reply lines, failing on an error reply or after 10 s.
func readLines(b *testing.B, nc net.Conn, br *bufio.Reader, n int) bool {
	nc.SetReadDeadline(time.Now().Add(10 * time.Second))
	for range n {
		line, err := br.ReadSlice('\n')
		if err != nil || line[0] == '-' {
			b.Errorf("load: %q %v", line, err)
			return false
		}
	}
	return true
}

// heapWatch keeps the most JavaScript heap the pages used, and kept
// after a garbage collection.
type heapWatch struct{ most, kept int64 }

func (h *heapWatch) sample(b *testing.B, ctxs ...context.Context) {
	for _, ctx := range ctxs {
		h.most = max(h.most, usedHeap(b, ctx))
	}
}

// afterGC collects the pages' garbage and returns the most heap kept.
func (h *heapWatch) afterGC(b *testing.B, ctxs ...context.Context) int64 {
	var most int64
	for _, ctx := range ctxs {
		eval[bool](b, ctx, `(gc(), true)`)
		most = max(most, usedHeap(b, ctx))
	}
	return most
}

// usedHeap is the page's performance.memory.usedJSHeapSize (precise:
// the browser runs with --enable-precise-memory-info).
func usedHeap(b *testing.B, ctx context.Context) int64 {
	return eval[int64](b, ctx, `performance.memory.usedJSHeapSize`)
}
