package torture

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"

	"github.com/dsm-dev/dsm/shm"
)

// A local process is this test binary run again with roleEnv=local: it
// opens the file through shm and runs operations until it is killed,
// writing one line before each operation and one after it on stdout, with
// no buffering, so that the parent learns of every operation that may have
// happened:
//
//	c KIND KEY A B CALL    about to run the operation
//	r VAL OK RETURN        it returned
//
// On a cluster node's file (clusterEnv set) it reads after SyncReads, and
// an operation that fails is followed by one of these, and the process
// goes on:
//
//	n      the write was certainly not applied (the daemon was down or
//	       answered CLUSTERDOWN), or a read failed
//	u      the write's outcome is unknown
const (
	roleEnv    = "DSM_TORTURE_ROLE"
	fileEnv    = "DSM_TORTURE_FILE"
	idEnv      = "DSM_TORTURE_ID"
	seedEnv    = "DSM_TORTURE_SEED"
	keysEnv    = "DSM_TORTURE_KEYS"     // the variables, comma-separated (default keys)
	setOnlyEnv = "DSM_TORTURE_SET_ONLY" // those of them never added to
	clusterEnv = "DSM_TORTURE_CLUSTER"
)

// localPace bounds the pause between a local process's operations.
const localPace = 4 * time.Millisecond

// runLocal is the body of a local process.
func runLocal() error {
	m, err := shm.Open(shm.Config{Path: os.Getenv(fileEnv)})
	if err != nil {
		return err
	}
	defer m.Close()
	id, _ := strconv.ParseInt(os.Getenv(idEnv), 10, 64)
	seed, _ := strconv.ParseUint(os.Getenv(seedEnv), 10, 64)
	ks := keys
	if v := os.Getenv(keysEnv); v != "" {
		ks = strings.Split(v, ",")
	}
	g := newOpGen(id, seed, ks, false)
	g.setOnly = map[string]bool{}
	for _, k := range strings.Split(os.Getenv(setOnlyEnv), ",") {
		g.setOnly[k] = true
	}
	g.seq = g.rng.Int64N(1 << 19) // a new incarnation writes new values
	replicated := os.Getenv(clusterEnv) != ""
	for {
		in := g.next()
		line := fmt.Sprintf("c %s %s %d %d %d\n", in.kind, in.key, in.a, in.b, now())
		if _, err := os.Stdout.WriteString(line); err != nil {
			return err
		}
		if replicated && in.kind == opGet {
			ctx, cancel := context.WithTimeout(context.Background(), clusterIOTimeout)
			err := m.SyncReads(ctx)
			cancel()
			if err != nil {
				os.Stdout.WriteString("n\n")
				time.Sleep(20 * time.Millisecond)
				continue
			}
		}
		out, err := localDo(m, in)
		if err != nil && replicated {
			os.Stdout.WriteString(localOutcome(in, err) + "\n")
			time.Sleep(20 * time.Millisecond)
			continue
		}
		if err != nil {
			return fmt.Errorf("%v: %w", in, err)
		}
		if _, err := fmt.Fprintf(os.Stdout, "r %d %t %d\n", out.val, out.ok, now()); err != nil {
			return err
		}
		g.saw(in, out)
		g.pause(localPace)
	}
}

// localOutcome sorts a failed operation on a cluster node's file: "n" if
// it certainly did nothing (a read; a write the daemon never got, or
// answered CLUSTERDOWN), "u" if its outcome is unknown.
func localOutcome(in input, err error) string {
	msg := err.Error()
	switch {
	case in.kind == opGet:
		return "n"
	case strings.Contains(msg, "may or may not"), strings.Contains(msg, "UNCERTAIN"):
		return "u"
	case errors.Is(err, shm.ErrNoDaemon), strings.Contains(msg, "CLUSTERDOWN"):
		return "n"
	}
	return "u"
}

// localDo runs one operation through the mapping.
func localDo(m *shm.Memory, in input) (output, error) {
	name := []byte(in.key)
	out := output{known: true}
	var err error
	switch in.kind {
	case opGet:
		var v shm.Value
		if v, _, err = m.Get(name); err == nil {
			var ok bool
			if out.val, ok = v.Int(); !ok {
				err = fmt.Errorf("value %v is not an integer", v)
			}
		}
	case opSet:
		_, err = m.Set(name, shm.Int(in.a))
	case opAdd:
		out.val, _, err = m.Add(name, in.a)
	case opCAS:
		out.ok, _, err = m.CompareAndSwap(name, shm.Int(in.a), shm.Int(in.b))
	}
	return out, err
}

// local runs incarnations of one local process: each lives for a random
// while and is killed with SIGKILL, until stop is set.
type local struct {
	slot    int
	file    string
	keys    []string // the variables; default keys
	setOnly []string // those of them never added to
	// cluster: the file is a cluster node's; a write may take effect
	// after its process died (the daemon has it), and gate (if set) is
	// held while a process runs.
	cluster bool
	gate    *sync.RWMutex
	seed    uint64
	clients *atomic.Int64 // allocates porcupine client ids
	stop    *atomic.Bool
	kills   int
	hist    history
	err     error
}

func (l *local) run() {
	for inc := 0; !l.stop.Load() && l.err == nil; inc++ {
		if l.gate != nil {
			l.gate.RLock()
		}
		l.err = l.incarnation(inc)
		if l.gate != nil {
			l.gate.RUnlock()
		}
	}
}

// incarnation runs one process until it is killed.
func (l *local) incarnation(inc int) error {
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), roleEnv+"=local", fileEnv+"="+l.file,
		idEnv+"="+strconv.Itoa(64+l.slot), seedEnv+"="+strconv.FormatUint(l.seed+uint64(inc), 10),
		keysEnv+"="+strings.Join(l.keys, ","), setOnlyEnv+"="+strings.Join(l.setOnly, ","))
	if l.cluster {
		cmd.Env = append(cmd.Env, clusterEnv+"=1")
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return err
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		return err
	}
	lifetime := time.Duration(500+l.seed%7*100+uint64(inc*211)%2500) * time.Millisecond
	timer := time.AfterFunc(lifetime, func() { cmd.Process.Signal(unix.SIGKILL) })
	defer timer.Stop()
	stopper := make(chan struct{})
	defer close(stopper)
	go func() { // an early end of the round kills it too
		for !l.stop.Load() {
			select {
			case <-stopper:
				return
			case <-time.After(20 * time.Millisecond):
			}
		}
		cmd.Process.Signal(unix.SIGKILL)
	}()
	client := int(l.clients.Add(1))
	open, perr := l.parse(client, stdout)
	werr := cmd.Wait()
	death := now()
	var ee *exec.ExitError
	if !errors.As(werr, &ee) || ee.Exited() {
		return fmt.Errorf("local process %d ended by itself: %v; stderr:\n%s", l.slot, werr, &stderr)
	}
	if perr != nil {
		return perr
	}
	l.kills++
	if open != nil {
		l.hist.addPending(client, open.in, open.call, func() (int64, bool) { return death, !l.cluster })
	}
	return nil
}

// call is an operation a local process announced.
type call struct {
	in   input
	call int64
}

// parse reads a local process's lines until it dies and returns the
// operation it had announced without a reply, if any.
func (l *local) parse(client int, r io.Reader) (*call, error) {
	sc := bufio.NewScanner(r)
	var open *call
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		switch {
		case len(f) == 6 && f[0] == "c":
			k, err := parseKind(f[1])
			if err != nil {
				return nil, err
			}
			open = &call{in: input{kind: k, key: f[2], a: atoi(f[3]), b: atoi(f[4])}, call: atoi(f[5])}
		case len(f) == 4 && f[0] == "r" && open != nil:
			out := output{known: true, val: atoi(f[1]), ok: f[2] == "true"}
			l.hist.add(client, open.in, open.call, out, atoi(f[3]))
			open = nil
		case len(f) == 1 && f[0] == "n" && open != nil:
			open = nil
		case len(f) == 1 && f[0] == "u" && open != nil:
			l.hist.addPending(client, open.in, open.call, func() (int64, bool) { return 0, false })
			open = nil
		default:
			// A line cut by the kill is the last one; anything else is a bug.
			if !sc.Scan() {
				return open, nil
			}
			return nil, fmt.Errorf("local process %d wrote %q", l.slot, f)
		}
	}
	return open, nil
}

func atoi(s string) int64 {
	n, _ := strconv.ParseInt(s, 10, 64)
	return n
}
