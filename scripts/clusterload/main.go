// Command clusterload drives the load of scripts/bench cluster against a
// three-node dsmd cluster and a three-node etcd cluster, the same way for
// both, and finds and kills their leaders for the failover figure.
//
// Usage:
//
//	clusterload COMMAND -system dsm|etcd -endpoints A,B,C [flags]
//
// Commands:
//
//	load      CLIENTS clients, each on its own connection to one node (client
//	          i on node i mod 3), run one operation for SECONDS and print
//	          "OPS_PER_S P50_MS P99_MS ERRORS OPS"
//	fill      write every key of the keyspace once, so that gets find them
//	wait      wait until every node answers, agrees on one leader, and a
//	          write through each node is acknowledged
//	status    print each node's leader changes, "C1 C2 C3", then its Raft
//	          terms, "T1 T2 T3" ("-" for a figure a node does not give)
//	leader    print the index in -endpoints of the node all agree leads
//	failover  kill -9 the leader (its pid from -pids), write through the
//	          other nodes with a TIMEOUT per request and print
//	          "KILLED_INDEX MS": the time from the kill to the first write
//	          sent after it that was acknowledged
//
// The operations are the same for both systems: put (dsm SET, etcd Put),
// get (dsm GET, etcd Get, both linearizable), sget (stale: dsm GET on a
// connection that sent READONLY, etcd Get with WithSerializable), and incr
// (dsm INCR; etcd has none, so a Get and a transaction that puts the value
// plus one if the key's mod revision is still the one read, retried on a
// conflict: only successful increments are counted). Requests are not
// pipelined: each client waits for its reply before sending the next.
//
// It is a module of its own so that etcd's client stays out of dsm's
// go.mod.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	if err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(os.Stderr, "clusterload:", err)
		}
		os.Exit(1)
	}
}

// config is what the flags set.
type config struct {
	system    string
	endpoints []string
	op        string
	clients   int
	duration  time.Duration
	keys      int
	valueSize int
	timeout   time.Duration
	waitMax   time.Duration
	pids      []int
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || strings.HasPrefix(args[0], "-") {
		return errors.New("usage: clusterload load|fill|wait|status|leader|failover -system dsm|etcd -endpoints A,B,C [flags]")
	}
	cmd := args[0]
	fs := flag.NewFlagSet("clusterload "+cmd, flag.ContinueOnError)
	fs.SetOutput(stderr)
	var cfg config
	var endpoints, pids string
	fs.StringVar(&cfg.system, "system", "", "cluster under test: dsm or etcd")
	fs.StringVar(&endpoints, "endpoints", "", "client `HOST:PORT`s of the nodes, comma-separated")
	fs.StringVar(&cfg.op, "op", "put", "load: put, get, sget (stale get) or incr")
	fs.IntVar(&cfg.clients, "clients", 50, "load: clients, one connection each")
	fs.DurationVar(&cfg.duration, "duration", 10*time.Second, "load: how long to run")
	fs.IntVar(&cfg.keys, "keys", 1000, "keys the operations spread over")
	fs.IntVar(&cfg.valueSize, "value-size", 32, "bytes of each value put")
	fs.DurationVar(&cfg.timeout, "timeout", 100*time.Millisecond, "failover: timeout of one write")
	fs.DurationVar(&cfg.waitMax, "wait-max", 60*time.Second, "wait and failover: give up after this long")
	fs.StringVar(&pids, "pids", "", "failover: process ids of the nodes, in the order of -endpoints")
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	if fs.NArg() != 0 {
		return fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	if endpoints == "" {
		return errors.New("-endpoints is required")
	}
	cfg.endpoints = strings.Split(endpoints, ",")
	sys, err := newSystem(cfg.system)
	if err != nil {
		return err
	}
	switch cmd {
	case "load":
		return runLoad(ctx, sys, cfg, stdout)
	case "fill":
		return fill(ctx, sys, cfg)
	case "wait":
		return waitReady(ctx, sys, cfg)
	case "status":
		return printStatus(ctx, sys, cfg, stdout)
	case "leader":
		i, err := leader(ctx, sys, cfg.endpoints)
		if err != nil {
			return err
		}
		_, err = fmt.Fprintln(stdout, i)
		return err
	case "failover":
		if cfg.pids, err = parsePids(pids, len(cfg.endpoints)); err != nil {
			return err
		}
		return failover(ctx, sys, cfg, stdout)
	default:
		return fmt.Errorf("unknown command %q", cmd)
	}
}

// newSystem returns the client side of the named system.
func newSystem(name string) (system, error) {
	switch name {
	case "dsm":
		return dsmSystem{}, nil
	case "etcd":
		return etcdSystem{}, nil
	}
	return nil, fmt.Errorf("-system %q: want dsm or etcd", name)
}

func parsePids(s string, n int) ([]int, error) {
	fields := strings.Split(s, ",")
	if len(fields) != n {
		return nil, fmt.Errorf("-pids: want %d, one per endpoint, got %q", n, s)
	}
	out := make([]int, n)
	for i, f := range fields {
		if _, err := fmt.Sscan(f, &out[i]); err != nil || out[i] <= 1 {
			return nil, fmt.Errorf("-pids: bad pid %q", f)
		}
	}
	return out, nil
}
