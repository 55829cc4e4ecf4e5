package server

import (
	"bufio"
	"log/slog"
	"net"
	"path/filepath"
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
