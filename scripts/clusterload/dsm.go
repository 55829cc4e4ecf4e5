package main

import (
	"bufio"
	"context"
	"errors"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/redis/go-redis/v9/maintnotifications"
)

// dsmSystem talks RESP to dsmd nodes: the load runs through bare
// connections (respConn), the failover's writes and the status through
// go-redis, one connection per client, without go-redis' retries (a
// repeated INCR would count twice).
type dsmSystem struct{}

func dsmOptions(endpoint string, stale bool, timeout time.Duration) *redis.Options {
	o := &redis.Options{
		Addr:                     endpoint,
		Protocol:                 2,
		PoolSize:                 1,
		MaxRetries:               -1,
		DisableIdentity:          true,
		ContextTimeoutEnabled:    true,
		MaintNotificationsConfig: &maintnotifications.Config{Mode: maintnotifications.ModeDisabled},
	}
	if timeout > 0 {
		o.DialTimeout, o.ReadTimeout, o.WriteTimeout = timeout, timeout, timeout
		o.DialerRetries = 1
	}
	if stale {
		o.OnConnect = func(ctx context.Context, cn *redis.Conn) error {
			return cn.ReadOnly(ctx).Err()
		}
	}
	return o
}

// dial opens a load client: a bare RESP connection (respConn), lean so
// that the load generator leaves the nodes as much of the machine as it
// can.
func (dsmSystem) dial(ctx context.Context, endpoint string, stale bool) (client, error) {
	return dialRESP(ctx, endpoint, stale)
}

func (dsmSystem) writer(endpoints []string, timeout time.Duration) (client, error) {
	w := &dsmWriter{}
	for _, e := range endpoints {
		w.nodes = append(w.nodes, redis.NewClient(dsmOptions(e, false, timeout)))
	}
	return w, nil
}

// dsmWriter sends each write to one node and moves to the next when a
// write fails, as a client of a cluster does.
type dsmWriter struct {
	mu    sync.Mutex
	nodes []*redis.Client
	cur   int
}

func (w *dsmWriter) put(ctx context.Context, key, value string) error {
	w.mu.Lock()
	rc := w.nodes[w.cur]
	w.mu.Unlock()
	err := rc.Set(ctx, key, value, 0).Err()
	if err != nil {
		w.mu.Lock()
		w.cur = (w.cur + 1) % len(w.nodes)
		w.mu.Unlock()
	}
	return err
}

func (w *dsmWriter) get(context.Context, string) error  { return errors.ErrUnsupported }
func (w *dsmWriter) incr(context.Context, string) error { return errors.ErrUnsupported }

func (w *dsmWriter) close() error {
	var errs []error
	for _, rc := range w.nodes {
		errs = append(errs, rc.Close())
	}
	return errors.Join(errs...)
}

// status reads the node's INFO cluster section.
func (dsmSystem) status(ctx context.Context, endpoint string) (nodeStatus, error) {
	rc := redis.NewClient(dsmOptions(endpoint, false, time.Second))
	defer rc.Close()
	text, err := rc.Info(ctx, "cluster").Result()
	if err != nil {
		return nodeStatus{}, err
	}
	info := parseInfo(text)
	st := nodeStatus{
		id:       info["cluster_node_id"],
		leader:   info["cluster_role"] == "leader",
		leaderID: info["cluster_leader_id"],
		changes:  infoInt(info, "cluster_leader_changes"),
		term:     infoInt(info, "cluster_term"),
	}
	if info["cluster_enabled"] != "" && info["cluster_enabled"] != "1" && info["cluster_enabled"] != "yes" {
		return st, errors.New(endpoint + " is not a cluster node (cluster_enabled:" + info["cluster_enabled"] + ")")
	}
	return st, nil
}

// parseInfo splits INFO's "key:value" lines.
func parseInfo(text string) map[string]string {
	out := map[string]string{}
	sc := bufio.NewScanner(strings.NewReader(text))
	for sc.Scan() {
		k, v, ok := strings.Cut(strings.TrimSpace(sc.Text()), ":")
		if ok && !strings.HasPrefix(k, "#") {
			out[k] = v
		}
	}
	return out
}

// infoInt is the integer field of INFO, or -1 if it is absent or not a
// number.
func infoInt(info map[string]string, key string) int64 {
	n, err := strconv.ParseInt(info[key], 10, 64)
	if err != nil {
		return -1
	}
	return n
}
