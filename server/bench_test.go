package server

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"log/slog"
	"net"
	"path/filepath"
	"strings"
	"testing"
)

// BenchmarkDispatch measures one request's way through a connection: parse,
// command table, shm, reply, flush; over net.Pipe, one request at a time.
func BenchmarkDispatch(b *testing.B) {
	s, err := New(Config{File: filepath.Join(b.TempDir(), "dsm.mem"), Vars: 1024, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	for _, bc := range []struct{ name, req string }{
		{"GET", encode("GET", "bench:key")},
		{"SET", encode("SET", "bench:key", "some value of moderate size")},
		{"INCR", encode("INCR", "bench:ctr")},
	} {
		b.Run(bc.name, func(b *testing.B) {
			client, srv := net.Pipe()
			done := make(chan struct{})
			go func() { defer close(done); s.serveConn(srv) }()
			br := bufio.NewReader(client)
			req := []byte(bc.req)
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if _, err := client.Write(req); err != nil {
					b.Fatal(err)
				}
				if _, err := readReply(br); err != nil {
					b.Fatal(err)
				}
			}
			b.StopTimer()
			client.Close()
			<-done
		})
	}
}

// pipelineCase is a command for BenchmarkPipeline and the number of lines
// ("\n") of its reply.
type pipelineCase struct {
	name  string
	args  []string
	lines int
}

// BenchmarkPipeline sends batches of depth commands over loopback TCP, as
// redis-benchmark -P does, and reads the replies as raw bytes (the client
// allocates nothing, so allocs/op are the server's). One op is one
// command. The target is 0 allocs/op for GET, SET and INCR.
func BenchmarkPipeline(b *testing.B) {
	ts := startServer(b, Config{})
	cases := []pipelineCase{
		{"GET", []string{"GET", "bench:key"}, 2},
		{"SET", []string{"SET", "bench:key", "xxx"}, 1},
		{"INCR", []string{"INCR", "bench:ctr"}, 1},
		{"MSET10", msetArgs(10), 1},
	}
	for _, depth := range []int{1, 16} {
		for _, bc := range cases {
			b.Run(fmt.Sprintf("%s/P=%d", bc.name, depth), func(b *testing.B) {
				benchPipeline(b, ts.addr, bc, depth)
			})
		}
	}
}

func msetArgs(n int) []string {
	args := []string{"MSET"}
	for i := range n {
		args = append(args, fmt.Sprint("bench:m", i), "xxx")
	}
	return args
}

func benchPipeline(b *testing.B, addr string, bc pipelineCase, depth int) {
	rc := dialRaw(b, addr)
	rc.c.Write([]byte(encode("SET", "bench:key", "xxx")))
	if _, err := readReply(rc.br); err != nil {
		b.Fatal(err)
	}
	batch := []byte(strings.Repeat(encode(bc.args...), depth))
	buf := make([]byte, 64<<10)
	b.ReportAllocs()
	b.ResetTimer()
	for sent := 0; sent < b.N; sent += depth {
		if _, err := rc.c.Write(batch); err != nil {
			b.Fatal(err)
		}
		if err := readLines(rc.br, buf, depth*bc.lines); err != nil {
			b.Fatal(err)
		}
	}
}

// readLines reads from br until it has seen n line ends.
func readLines(br *bufio.Reader, buf []byte, n int) error {
	for n > 0 {
		k, err := br.Read(buf)
		if err != nil {
			return err
		}
		if bytes.IndexByte(buf[:k], '-') == 0 {
			return fmt.Errorf("error reply: %q", buf[:k])
		}
		n -= bytes.Count(buf[:k], []byte("\n"))
	}
	if n < 0 {
		return io.ErrUnexpectedEOF
	}
	return nil
}
