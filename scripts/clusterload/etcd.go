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

// etcdSystem talks to etcd nodes: the load runs through bare gRPC
// connections (etcdConn), the failover's writes and the status through
// etcd's own Go client.
type etcdSystem struct{}

func etcdConfig(endpoints []string, timeout time.Duration) clientv3.Config {
	return clientv3.Config{
		Endpoints:   endpoints,
		DialTimeout: timeout,
		Logger:      zap.NewNop(),
	}
}

// dial opens a load client: a bare gRPC connection (etcdConn).
func (etcdSystem) dial(ctx context.Context, endpoint string, stale bool) (client, error) {
	return dialEtcd(ctx, endpoint, stale)
}

// etcdClient is the failover's writer: etcd's own client, whose balancer
// moves off a node whose connection fails.
type etcdClient struct {
	cli *clientv3.Client
}

func (c etcdClient) put(ctx context.Context, key, value string) error {
	_, err := c.cli.Put(ctx, key, value)
	return err
}

func (c etcdClient) get(context.Context, string) error  { return errors.ErrUnsupported }
func (c etcdClient) incr(context.Context, string) error { return errors.ErrUnsupported }

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
