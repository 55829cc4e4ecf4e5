package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"
)

// etcdSystem talks to etcd nodes through etcd's own Go client.
type etcdSystem struct{}

func etcdConfig(endpoints []string, timeout time.Duration) clientv3.Config {
	return clientv3.Config{
		Endpoints:   endpoints,
		DialTimeout: timeout,
		Logger:      zap.NewNop(),
	}
}

func (etcdSystem) dial(ctx context.Context, endpoint string, stale bool) (client, error) {
	cli, err := clientv3.New(etcdConfig([]string{endpoint}, 5*time.Second))
	if err != nil {
		return nil, err
	}
	c := etcdClient{cli: cli, stale: stale}
	// The first request opens the connection, out of the timed run.
	if err := c.get(ctx, "warmup"); err != nil {
		cli.Close()
		return nil, err
	}
	return c, nil
}

type etcdClient struct {
	cli   *clientv3.Client
	stale bool // gets are serializable: the node's own state
}

func (c etcdClient) put(ctx context.Context, key, value string) error {
	_, err := c.cli.Put(ctx, key, value)
	return err
}

func (c etcdClient) get(ctx context.Context, key string) error {
	var opts []clientv3.OpOption
	if c.stale {
		opts = append(opts, clientv3.WithSerializable())
	}
	_, err := c.cli.Get(ctx, key, opts...)
	return err
}

// incr is how an etcd client adds to a number: read it with its mod
// revision, then put the sum in a transaction that succeeds only if the
// key was not written since; on a conflict the transaction's else branch
// reads the key again, so a retry costs one round trip.
func (c etcdClient) incr(ctx context.Context, key string) error {
	resp, err := c.cli.Get(ctx, key)
	if err != nil {
		return err
	}
	kvs := resp.Kvs
	for {
		var n int64
		var rev int64 // 0: the key does not exist yet
		if len(kvs) > 0 {
			rev = kvs[0].ModRevision
			if n, err = strconv.ParseInt(string(kvs[0].Value), 10, 64); err != nil {
				return fmt.Errorf("incr %s: %w", key, err)
			}
		}
		txn, err := c.cli.Txn(ctx).
			If(clientv3.Compare(clientv3.ModRevision(key), "=", rev)).
			Then(clientv3.OpPut(key, strconv.FormatInt(n+1, 10))).
			Else(clientv3.OpGet(key)).
			Commit()
		if err != nil {
			return err
		}
		if txn.Succeeded {
			return nil
		}
		kvs = txn.Responses[0].GetResponseRange().Kvs
	}
}

func (c etcdClient) close() error { return c.cli.Close() }

// writer leaves the choice of node to the client's balancer, which moves
// off a node whose connection fails.
func (etcdSystem) writer(endpoints []string, timeout time.Duration) (client, error) {
	cli, err := clientv3.New(etcdConfig(endpoints, timeout))
	if err != nil {
		return nil, err
	}
	return etcdClient{cli: cli}, nil
}

// status asks the node's maintenance API for its leader and term, and its
// metrics for the leader changes it has seen.
func (etcdSystem) status(ctx context.Context, endpoint string) (nodeStatus, error) {
	cli, err := clientv3.New(etcdConfig([]string{endpoint}, time.Second))
	if err != nil {
		return nodeStatus{}, err
	}
	defer cli.Close()
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	resp, err := cli.Status(ctx, endpoint)
	if err != nil {
		return nodeStatus{}, err
	}
	st := nodeStatus{
		id:      strconv.FormatUint(resp.Header.MemberId, 16),
		leader:  resp.Leader == resp.Header.MemberId,
		term:    int64(resp.RaftTerm),
		changes: -1,
	}
	if resp.Leader != 0 {
		st.leaderID = strconv.FormatUint(resp.Leader, 16)
	}
	st.changes, err = etcdLeaderChanges(ctx, endpoint)
	return st, err
}

// etcdLeaderChanges reads etcd_server_leader_changes_seen_total from the
// node's /metrics, served on its client address.
func etcdLeaderChanges(ctx context.Context, endpoint string) (int64, error) {
	url := endpoint
	if !strings.Contains(url, "://") {
		url = "http://" + url
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url+"/metrics", nil)
	if err != nil {
		return -1, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return -1, err
	}
	defer resp.Body.Close()
	const name = "etcd_server_leader_changes_seen_total "
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), name); ok {
			f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
			if err != nil {
				return -1, fmt.Errorf("%s: %w", name, err)
			}
			return int64(f), nil
		}
	}
	if err := sc.Err(); err != nil {
		return -1, err
	}
	return -1, errors.New(endpoint + "/metrics has no " + strings.TrimSpace(name))
}
