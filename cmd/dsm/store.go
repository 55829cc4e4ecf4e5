package main

import (
	"context"
	"sync/atomic"

	"github.com/dsm-dev/dsm/client"
)

// store is what the commands run against: the daemon through the client
// package (remote) or the file through shm (local). Both report errors with
// client's kinds, so exit codes and messages do not depend on the mode.
type store interface {
	// Get returns the value and its version (0 when the store cannot tell).
	Get(ctx context.Context, name string) (string, uint64, error)
	Set(ctx context.Context, name, value string) error
	Add(ctx context.Context, name string, delta int64) (int64, error)
	CAS(ctx context.Context, name, old, new string) (bool, error)
	MGet(ctx context.Context, names ...string) ([]client.Item, error)
	MSet(ctx context.Context, nameValues ...string) error
	Del(ctx context.Context, names ...string) (int64, error)
	List(ctx context.Context, pattern string) ([]string, error)
	Status(ctx context.Context) (*status, error)
	// Where names the daemon's address or the file, for messages.
	Where() string
	Close() error
}

// remote is the daemon, reached through the client package.
type remote struct {
	*client.Client
	// connects counts the connections made, so the prompt can tell the
	// user when the client reconnected behind its back.
	connects atomic.Int64
}

// dialRemote connects to the daemon at addr.
func dialRemote(ctx context.Context, addr string, opts client.Options) (*remote, error) {
	r := &remote{}
	opts.OnConnect = func() { r.connects.Add(1) }
	// The CLI runs one command at a time; one connection is all it needs.
	opts.PoolSize = 1
	c, err := client.Dial(ctx, addr, &opts)
	if err != nil {
		return nil, err
	}
	r.Client = c
	return r, nil
}

func (r *remote) Get(ctx context.Context, name string) (string, uint64, error) {
	v, err := r.Client.Get(ctx, name)
	return v, 0, err
}

func (r *remote) Where() string { return r.Addr() }

// Status gathers INFO and CLIENT LIST.
func (r *remote) Status(ctx context.Context) (*status, error) {
	info, err := r.Info(ctx)
	if err != nil {
		return nil, err
	}
	clients, err := r.Clients(ctx)
	if err != nil {
		return nil, err
	}
	return remoteStatus(r.Addr(), info, clients), nil
}
