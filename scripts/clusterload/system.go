package main

import (
	"context"
	"time"
)

// A system is the client side of one cluster under test.
type system interface {
	// dial opens a client with one connection to the node at endpoint;
	// with stale set, its gets may read the node's own state.
	dial(ctx context.Context, endpoint string, stale bool) (client, error)
	// writer opens a client for the failover's writes: it sends each
	// request to one of the endpoints and moves to the next after a
	// failure, each request failing after timeout.
	writer(endpoints []string, timeout time.Duration) (client, error)
	// status asks the node at endpoint what it knows of the cluster.
	status(ctx context.Context, endpoint string) (nodeStatus, error)
}

// A client runs one request at a time.
type client interface {
	put(ctx context.Context, key, value string) error
	get(ctx context.Context, key string) error
	// incr adds one to the number at key, however many tries that takes.
	incr(ctx context.Context, key string) error
	close() error
}

// nodeStatus is what one node says of the cluster. Counters a node does
// not give are -1.
type nodeStatus struct {
	id       string // the node's own id
	leader   bool   // the node leads
	leaderID string // the leader the node knows of; "" for none
	changes  int64  // leader changes the node has seen since it started
	term     int64  // the node's Raft term
}
