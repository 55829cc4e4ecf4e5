package torture

import (
	"cmp"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/anishathalye/porcupine"
	"github.com/redis/go-redis/v9"

	"github.com/dsm-dev/dsm/shm"
)

func TestMain(m *testing.M) {
	if os.Getenv(roleEnv) == "local" {
		if err := runLocal(); err != nil {
			fmt.Fprintln(os.Stderr, "local process:", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	// go-redis logs every refused redial of a pinned connection; the test
	// records those as operations without a reply.
	redis.SetLogger(quietLogger{})
	os.Exit(m.Run())
}

type quietLogger struct{}

func (quietLogger) Printf(context.Context, string, ...any) {}

// Shape of a round.
const (
	respClients  = 4
	seedClients  = 2
	locals       = 3
	remotePace   = 4 * time.Millisecond // most pause between a client's operations
	checkTimeout = 2 * time.Minute
)

// envDuration reads a Go duration from the environment.
func envDuration(t *testing.T, name string, def time.Duration) time.Duration {
	t.Helper()
	s := os.Getenv(name)
	if s == "" {
		return def
	}
	d, err := time.ParseDuration(s)
	if err != nil || d <= 0 {
		t.Fatalf("%s=%q: want a positive Go duration such as 45s or 10m", name, s)
	}
	return d
}

// figures are what a run survived.
type figures struct {
	rounds, ops, unknown, daemonKills, localKills, localOpsDown int
}

// TestTorture puts guarantees 1, 4 and 8 (docs/GUARANTEES.md) under fire:
// see the package documentation.
func TestTorture(t *testing.T) {
	total := envDuration(t, "DSM_TORTURE_DURATION", 45*time.Second)
	roundLen := envDuration(t, "DSM_TORTURE_ROUND", 30*time.Second)
	dir := t.TempDir()
	file := filepath.Join(dir, "dsm.mem")
	mem, err := shm.Open(shm.Config{Path: file, Vars: 64})
	if err != nil {
		t.Fatal(err)
	}
	defer mem.Close()
	tr := &torture{t: t, mem: mem, file: file, d: newDaemons(buildDaemon(t, dir), file),
		seed: uint64(time.Now().UnixNano())}
	t.Logf("seed %d", tr.seed)
	deadline := time.Now().Add(total)
	for round := 1; ; round++ {
		end := time.Now().Add(roundLen)
		if end.After(deadline) {
			end = deadline
		}
		if !tr.round(round, end) {
			break
		}
		if !time.Now().Add(5 * time.Second).Before(deadline) {
			break
		}
	}
	if err := tr.d.stop(); err != nil {
		t.Error(err)
	}
	f := tr.fig
	t.Logf("torture: %d operations checked (%d without a reply), %d daemon kills survived, %d local process kills, %d local operations completed while dsmd was down, %d rounds",
		f.ops, f.unknown, f.daemonKills, f.localKills, f.localOpsDown, f.rounds)
	if f.daemonKills == 0 || f.localKills == 0 || f.localOpsDown == 0 {
		t.Errorf("the run killed dsmd %d times and local processes %d times, and saw %d local operations while dsmd was down; want each > 0 (run longer)",
			f.daemonKills, f.localKills, f.localOpsDown)
	}
}

// torture is the state of one TestTorture run.
type torture struct {
	t    *testing.T
	mem  *shm.Memory // the test's own attachment: round starts and final reads
	file string
	d    *daemons
	seed uint64
	fig  figures

	down [][2]int64 // intervals during which no dsmd ran
}

// round runs one round until end and checks its history; false means the
// round failed and the run should stop.
func (tr *torture) round(n int, end time.Time) bool {
	t := tr.t
	var h history
	var gen = newOpGen(1, tr.seed+uint64(n), keys, false)
	for _, k := range keys {
		in := input{kind: opSet, key: k, a: gen.unique()}
		call := now()
		if _, err := tr.mem.Set([]byte(k), shm.Int(in.a)); err != nil {
			t.Fatal(err)
		}
		h.add(0, in, call, output{known: true}, now())
	}
	tr.down = tr.down[:0]
	if err := tr.d.start(); err != nil {
		t.Fatal(err)
	}
	var stop atomic.Bool
	var wg sync.WaitGroup
	remotes := tr.startRemotes(n, &stop, &wg)
	localsRun := tr.startLocals(n, &stop, &wg)
	tr.chaos(end)
	stop.Store(true)
	wg.Wait()
	ok := true
	for _, c := range remotes {
		h.merge(&c.hist)
		if c.err != nil {
			t.Error(c.err)
			ok = false
		}
	}
	for _, l := range localsRun {
		h.merge(&l.hist)
		tr.fig.localKills += l.kills
		if l.err != nil {
			t.Error(l.err)
			ok = false
		}
	}
	tr.restart()
	tr.finalReads(&h)
	if err := tr.d.kill(); err != nil {
		t.Fatal(err)
	}
	tr.fig.daemonKills++
	return tr.check(n, h.close()) && ok
}

// startRemotes starts the round's network clients.
func (tr *torture) startRemotes(round int, stop *atomic.Bool, wg *sync.WaitGroup) []*remote {
	var out []*remote
	for i := 0; i < respClients+seedClients; i++ {
		seed := i >= respClients
		ks := keys
		if seed {
			ks = keys[:1]
		}
		c := &remote{client: 1 + i, seed: seed, d: tr.d, pace: remotePace, stop: stop,
			gen: newOpGen(int64(2+i), tr.seed+uint64(round*100+i), ks, seed)}
		out = append(out, c)
		wg.Go(c.run)
	}
	return out
}

// startLocals starts the round's local processes.
func (tr *torture) startLocals(round int, stop *atomic.Bool, wg *sync.WaitGroup) []*local {
	var ids atomic.Int64
	ids.Store(100)
	var out []*local
	for i := 0; i < locals; i++ {
		l := &local{slot: i, file: tr.file, seed: tr.seed + uint64(round*1000+i*100), clients: &ids, stop: stop}
		out = append(out, l)
		wg.Go(l.run)
	}
	return out
}

// chaos kills dsmd every 1 to 3 s and restarts it after 50 to 300 ms,
// until end.
func (tr *torture) chaos(end time.Time) {
	rng := rand.New(rand.NewPCG(tr.seed, 7))
	for {
		wait := time.Second + time.Duration(rng.Int64N(int64(2*time.Second)))
		if time.Now().Add(wait).After(end) {
			time.Sleep(time.Until(end))
			return
		}
		time.Sleep(wait)
		tr.restartAfter(50*time.Millisecond + time.Duration(rng.Int64N(int64(250*time.Millisecond))))
	}
}

// restart kills dsmd and starts it again at once.
func (tr *torture) restart() { tr.restartAfter(0) }

func (tr *torture) restartAfter(pause time.Duration) {
	if err := tr.d.kill(); err != nil {
		tr.t.Fatal(err)
	}
	from := now()
	tr.fig.daemonKills++
	time.Sleep(pause)
	if err := tr.d.start(); err != nil {
		tr.t.Fatal(err)
	}
	tr.down = append(tr.down, [2]int64{from, now()})
}

// finalReads reads every variable through RESP, the seed protocol and the
// mapping, after the last restart, into h: a lost acknowledged write makes
// the history fail the check.
func (tr *torture) finalReads(h *history) {
	t := tr.t
	_, addr := tr.d.current()
	rc := dialRESP(t, addr)
	defer rc.close()
	sc := &seedConn{nc: dialTCP(t, addr)}
	defer sc.close()
	for _, k := range keys {
		in := input{kind: opGet, key: k}
		for _, c := range []remoteConn{rc, sc} {
			if c == sc && k != "value" {
				continue
			}
			call := now()
			out, broken, err := c.do(in)
			if err != nil || broken != nil {
				t.Fatalf("final read of %s: %v %v", k, err, broken)
			}
			out.known = true
			h.add(0, in, call, out, now())
		}
		call := now()
		out, err := localDo(tr.mem, in)
		if err != nil {
			t.Fatalf("final read of %s through the mapping: %v", k, err)
		}
		h.add(0, in, call, out, now())
	}
}

// check runs porcupine on a round's history; on failure it saves the
// visualization and names it.
func (tr *torture) check(round int, ops []porcupine.Operation) bool {
	t := tr.t
	start := time.Now()
	res, info := porcupine.CheckOperationsVerbose(model, ops, checkTimeout)
	t.Logf("round %d: %d operations (%s), checked in %v: %s", round, len(ops), counts(ops), time.Since(start).Round(time.Millisecond), res)
	tr.fig.rounds++
	tr.fig.ops += len(ops)
	for _, op := range ops {
		o := op.Output.(output)
		if !o.known {
			tr.fig.unknown++
		}
		if op.ClientId >= 100 && o.known && tr.whileDown(op) {
			tr.fig.localOpsDown++
		}
	}
	if res == porcupine.Ok {
		return true
	}
	path := filepath.Join(outDir(), "dsm-torture-"+strconv.FormatUint(tr.seed, 10)+"-round"+strconv.Itoa(round)+".html")
	if err := porcupine.VisualizePath(model, info, path); err != nil {
		t.Errorf("round %d: history is %s; saving the visualization failed: %v", round, res, err)
		return false
	}
	dump := strings.TrimSuffix(path, ".html") + ".txt"
	if err := writeHistory(dump, ops); err != nil {
		t.Errorf("saving the history as text: %v", err)
	}
	t.Errorf("round %d: history is %s (not linearizable, or not decided within %v); visualization: %s; as text: %s", round, res, checkTimeout, path, dump)
	return false
}

// writeHistory saves ops as text, one per line in call order: client, call
// and return instants (ns), operation and result.
func writeHistory(path string, ops []porcupine.Operation) error {
	sorted := slices.Clone(ops)
	slices.SortFunc(sorted, func(a, b porcupine.Operation) int { return cmp.Compare(a.Call, b.Call) })
	var b strings.Builder
	for _, op := range sorted {
		in := op.Input.(input)
		fmt.Fprintf(&b, "%d %d %d %v -> %s\n", op.ClientId, op.Call, op.Return, in, op.Output.(output).describe(in.kind))
	}
	return os.WriteFile(path, []byte(b.String()), 0o644)
}

// whileDown reports whether op ran wholly while no dsmd ran.
func (tr *torture) whileDown(op porcupine.Operation) bool {
	for _, iv := range tr.down {
		if op.Call >= iv[0] && op.Return <= iv[1] {
			return true
		}
	}
	return false
}
