package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"

	"github.com/dsm-dev/dsm/cluster"
	"github.com/dsm-dev/dsm/server"
)

const recoverUsage = "usage: cluster recover --file PATH [--raft-dir DIR] --node-id ID --peers ID=HOST:PORT,..."

// runClusterRecover rewrites the Raft state of the stopped node whose
// file is --file (see recoverLong).
func runClusterRecover(cfg *config, args []string, stdout, stderr io.Writer) int {
	var id, peers, dir string
	fs := flag.NewFlagSet("cluster recover", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.StringVar(&id, "node-id", "", "")
	fs.StringVar(&peers, "peers", "", "")
	fs.StringVar(&dir, "raft-dir", "", "")
	if err := fs.Parse(args); err != nil {
		return fail(stderr, cfg.format, &usageError{msg: recoverUsage + " (" + err.Error() + ")"})
	}
	if fs.NArg() > 0 || id == "" || peers == "" || cfg.file == "" {
		return fail(stderr, cfg.format, &usageError{msg: recoverUsage})
	}
	voters, err := parsePeers(peers)
	if err != nil {
		return fail(stderr, cfg.format, err)
	}
	if _, err := os.Stat(cfg.file); err != nil {
		return fail(stderr, cfg.format, &fileError{path: cfg.file, err: err})
	}
	r, err := server.RecoverCluster(server.Config{
		File: cfg.file, Logger: slog.New(slog.DiscardHandler),
		Cluster: &server.ClusterConfig{NodeID: id, Peers: voters, Dir: dir},
	})
	if err != nil {
		if errors.Is(err, server.ErrInvalidConfig) || errors.Is(err, cluster.ErrConfig) {
			err = &usageError{msg: err.Error()}
		}
		return fail(stderr, cfg.format, err)
	}
	return printResult(cfg.format, nil, recoverResult{NodeID: id, Voters: strings.Split(peers, ","), Recovered: r}, nil, stdout, stderr)
}

// parsePeers reads ID=HOST:PORT[,ID=HOST:PORT...], as dsmd's -peers.
func parsePeers(s string) ([]cluster.Peer, error) {
	var out []cluster.Peer
	for p := range strings.SplitSeq(s, ",") {
		id, addr, ok := strings.Cut(strings.TrimSpace(p), "=")
		if !ok || id == "" || addr == "" {
			return nil, &usageError{msg: fmt.Sprintf("--peers: %q is not ID=HOST:PORT", p)}
		}
		out = append(out, cluster.Peer{ID: id, Addr: addr})
	}
	return out, nil
}

// recoverResult is what recover did.
type recoverResult struct {
	NodeID string
	Voters []string
	cluster.Recovered
}

func (r recoverResult) plain() []string {
	return []string{
		fmt.Sprintf("recovered %s: the voters are now %s", r.NodeID, strings.Join(r.Voters, ", ")),
		fmt.Sprintf("kept the log up to index %d (term %d); the file has applied %d", r.Index, r.Term, r.Applied),
		"start dsmd on this node again, with the flags it had, once every survivor is recovered",
	}
}

func (r recoverResult) objects() []any {
	return []any{map[string]any{
		"ok": true, "node_id": r.NodeID, "voters": r.Voters,
		"index": r.Index, "term": r.Term, "applied_index": r.Applied,
	}}
}
