package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/dsm-dev/dsm/internal/childproc"
	"github.com/dsm-dev/dsm/internal/ci"
	"github.com/dsm-dev/dsm/shm"
)

// The tests build the library with libdsm/build (go build -buildmode=
// c-shared and c-archive, then cc for the C test and example) and run the
// C test, the Python package's tests and processes of every language on one
// file. They need a C compiler and, for Python, the interpreter that
// python() names with pytest; .ci/run installs both.

func TestMain(m *testing.M) {
	childproc.Main(runChild)
	code := m.Run()
	if lib.dir != "" {
		os.RemoveAll(lib.dir)
	}
	os.Exit(code)
}

// runChild runs a Go helper process: "add" adds 1 to counter arg times
// through its own mapping and prints each result.
func runChild(role, path, arg string) error {
	if role != "add" {
		return fmt.Errorf("unknown role %q", role)
	}
	n, err := strconv.Atoi(arg)
	if err != nil {
		return err
	}
	m, err := shm.Open(shm.Config{Path: path})
	if err != nil {
		return err
	}
	defer m.Close()
	w := bufio.NewWriterSize(os.Stdout, 64)
	for range n {
		r, _, err := m.Add([]byte("counter"), 1)
		if err != nil {
			return err
		}
		// One line per acknowledged add, written at once.
		fmt.Fprintln(w, r)
		w.Flush()
	}
	return nil
}

// lib is the library built once per test binary.
var lib struct {
	once sync.Once
	dir  string
	err  error
}

// built builds libdsm.so, libdsm.a, the C test and the C example into a
// directory and returns it.
func built(t testing.TB) string {
	t.Helper()
	if _, err := exec.LookPath(ccName()); err != nil {
		ci.NeedOrSkip(t, "no C compiler ("+ccName()+") to build the C test with")
	}
	lib.once.Do(func() {
		lib.dir, lib.err = os.MkdirTemp("", "libdsm-test-")
		if lib.err != nil {
			return
		}
		out, err := exec.Command("./build", "--examples", lib.dir).CombinedOutput()
		if err != nil {
			lib.err = fmt.Errorf("libdsm/build: %v\n%s", err, out)
		}
	})
	if lib.err != nil {
		t.Fatal(lib.err)
	}
	return lib.dir
}

func ccName() string {
	if cc := os.Getenv("CC"); cc != "" {
		return cc
	}
	return "cc"
}

// python is the interpreter the Python tests use: $DSM_PYTHON, or Debian's
// /usr/bin/python3, where Debian's python3-pytest installs pytest (a python3
// earlier on PATH, such as pyenv's, may lack it). With needPytest it must
// have pytest.
func python(t testing.TB, needPytest bool) string {
	t.Helper()
	py := os.Getenv("DSM_PYTHON")
	if py == "" {
		py = "/usr/bin/python3"
	}
	check := "import ctypes"
	if needPytest {
		check = "import pytest"
	}
	if out, err := exec.Command(py, "-c", check).CombinedOutput(); err != nil {
		ci.NeedOrSkip(t, fmt.Sprintf("%s cannot %q (apt-get install python3-pytest): %v %s", py, check, err, out))
	}
	return py
}

// repo is the repository's root directory.
func repo(t testing.TB) string {
	t.Helper()
	dir, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	return dir
}

// pythonEnv is the environment of a Python process that imports the dsm
// package of the checkout with the library built here.
func pythonEnv(t testing.TB) []string {
	return append(os.Environ(), "PYTHONPATH="+filepath.Join(repo(t), "python"),
		"DSM_LIBRARY="+filepath.Join(built(t), "libdsm.so"), "PYTHONDONTWRITEBYTECODE=1")
}

// TestC runs the C test (ctest/dsm_test.c, linked against libdsm.a): every
// function of dsm.h, several threads, a forked child, dsm_close under use.
func TestC(t *testing.T) {
	dir := built(t)
	cmd := exec.Command(filepath.Join(dir, "dsm_test"), t.TempDir())
	out, err := cmd.CombinedOutput()
	t.Logf("dsm_test:\n%s", out)
	if err != nil || !strings.HasSuffix(string(out), "PASS\n") {
		t.Fatalf("dsm_test: %v", err)
	}
}

// TestCExample runs the example against a file a Go process shares.
func TestCExample(t *testing.T) {
	dsmc := filepath.Join(built(t), "dsmc")
	path := filepath.Join(t.TempDir(), "ex.mem")
	m, err := shm.Open(shm.Config{Path: path})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	if _, err := m.Set([]byte("x"), shm.Int(40)); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"add", "x", "1", "2"}, "41\n42\n"},
		{[]string{"get", "x"}, "42\n"},
		{[]string{"set", "s", "hello"}, "OK\n"},
		{[]string{"get", "s"}, "hello\n"},
	} {
		out, err := exec.Command(dsmc, append([]string{path}, tt.args...)...).CombinedOutput()
		if err != nil || string(out) != tt.want {
			t.Fatalf("dsmc %v: %q, %v; want %q", tt.args, out, err, tt.want)
		}
	}
	if v, _, err := m.Get([]byte("s")); err != nil || v.String() != "hello" {
		t.Fatalf("Go reads s = %v, %v", v, err)
	}
	out, err := exec.Command(dsmc, path, "get", "missing").CombinedOutput()
	if err == nil || !strings.Contains(string(out), "no such variable") {
		t.Fatalf("dsmc get missing: %q, %v; want an error naming it", out, err)
	}
}

// TestPython installs the package as pip does (building the library with
// the Go toolchain) into a directory of its own and runs its tests with
// pytest there.
func TestPython(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the library again through pip")
	}
	py := python(t, true)
	target := t.TempDir()
	install := exec.Command(py, "-m", "pip", "install", "--quiet", "--no-build-isolation", "--no-deps",
		"--disable-pip-version-check", "--no-cache-dir", "--target", target, "./python")
	install.Dir = repo(t)
	install.Env = append(os.Environ(), "GO="+goCommand(t))
	if out, err := install.CombinedOutput(); err != nil {
		t.Fatalf("pip install ./python: %v\n%s", err, out)
	}
	if _, err := os.Stat(filepath.Join(target, "dsm", "libdsm.so")); err != nil {
		t.Fatalf("pip did not install the library: %v", err)
	}
	test := exec.Command(py, "-m", "pytest", "-q", "-p", "no:cacheprovider", filepath.Join(repo(t), "python", "tests"))
	test.Dir = t.TempDir()
	test.Env = append(os.Environ(), "PYTHONPATH="+target, "PYTHONDONTWRITEBYTECODE=1")
	out, err := test.CombinedOutput()
	t.Logf("pytest:\n%s", out)
	if err != nil {
		t.Fatalf("pytest: %v", err)
	}
	if !strings.Contains(string(out), " passed") || strings.Contains(string(out), "skipped") {
		t.Fatal("pytest ran no test or skipped some")
	}
}

// goCommand is the go command for the builds a test starts: the one on
// PATH (as libdsm/build uses), else Go's usual place.
func goCommand(t testing.TB) string {
	if p, err := exec.LookPath("go"); err == nil {
		return p
	}
	if _, err := os.Stat("/usr/local/go/bin/go"); err == nil {
		return "/usr/local/go/bin/go"
	}
	ci.NeedOrSkip(t, "no go command")
	return ""
}

// runPython runs a Python program (source) with args and returns its
// standard output.
func runPython(t testing.TB, ctx context.Context, source string, args ...string) (string, error) {
	t.Helper()
	cmd := exec.CommandContext(ctx, python(t, false), append([]string{"-u", "-c", source}, args...)...)
	cmd.Env = pythonEnv(t)
	var errb strings.Builder
	cmd.Stderr = &errb
	out, err := cmd.Output()
	if err != nil {
		return string(out), fmt.Errorf("%v; stderr:\n%s", err, errb.String())
	}
	return string(out), nil
}

// TestCCacheAcrossProcesses: while this process deletes "a" and sets "b"
// in the slot it freed (the file has no other free slot), and back,
// thousands of times, the C test's reader gets both by name in two
// threads of another process, through the library's name cache: no get
// returns the other variable's value (a's are even, b's odd).
func TestCCacheAcrossProcesses(t *testing.T) {
	dsmTest := filepath.Join(built(t), "dsm_test")
	path := filepath.Join(t.TempDir(), "flip.mem")
	const vars = 16
	m, err := shm.Open(shm.Config{Path: path, Vars: vars})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	for i := range vars - 1 {
		if _, err := m.Set(fmt.Appendf(nil, "fill%d", i), shm.Int(-1)); err != nil {
			t.Fatal(err)
		}
	}
	a, b := []byte("a"), []byte("b")
	if _, err := m.Set(a, shm.Int(0)); err != nil {
		t.Fatal(err)
	}
	if _, err := m.Set([]byte("full"), shm.Int(0)); !errors.Is(err, shm.ErrFull) {
		t.Fatalf("Set in a full file = %v, want ErrFull: a deleted slot must be the only free one", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	flips := make(chan int)
	go func() {
		k := 0
		defer func() { flips <- k }()
		for ctx.Err() == nil {
			k++
			steps := []func() error{
				func() error { _, err := m.Delete(a); return err },
				func() error { _, err := m.Set(b, shm.Int(int64(2*k+1))); return err },
				func() error { _, err := m.Delete(b); return err },
				func() error { _, err := m.Set(a, shm.Int(int64(2*k))); return err },
			}
			for _, step := range steps {
				if err := step(); err != nil {
					t.Errorf("flip %d: %v", k, err)
					return
				}
			}
		}
	}()
	out, err := exec.Command(dsmTest, "reader", path, "1500").CombinedOutput()
	cancel()
	k := <-flips
	t.Logf("%d flips; dsm_test reader: %s", k, out)
	if err != nil {
		t.Fatalf("dsm_test reader: %v (a get returned the other variable's value, or failed)", err)
	}
	var reads [3]int64
	if _, err := fmt.Sscanf(string(out), "reads %d %d %d", &reads[0], &reads[1], &reads[2]); err != nil {
		t.Fatalf("reader's output %q: %v", out, err)
	}
	if reads[2] != 0 || reads[0] == 0 || reads[1] == 0 || k < 100 {
		t.Fatalf("reads of a %d, of b %d, bad %d, over %d flips: want no bad read and reads of both over many flips",
			reads[0], reads[1], reads[2], k)
	}
}

// BenchmarkCallCount times what every call into the library pays to count
// itself on its file, so that dsm_close can wait for it: memory.hold and
// the decrement in memory.exit, two atomic read-modify-writes of one
// counter (docs/BENCHMARKS.md cites it).
func BenchmarkCallCount(b *testing.B) {
	mem := &memory{}
	for range b.N {
		if !mem.hold() {
			b.Fatal("hold refused on an open file")
		}
		mem.users.Add(-1)
	}
}
