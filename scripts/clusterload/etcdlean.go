package main

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	pb "go.etcd.io/etcd/api/v3/etcdserverpb"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
)

// etcdConn is the load runs' client of an etcd node: one gRPC connection
// and etcd's generated KV stub, without clientv3's balancer and retrying
// interceptors, as lean as the bare RESP connection of the dsm side
// (respConn) so that neither side's load costs the machine more than the
// requests themselves do.
type etcdConn struct {
	cc    *grpc.ClientConn
	kv    pb.KVClient
	stale bool // gets are serializable: the node's own state
}

func dialEtcd(ctx context.Context, endpoint string, stale bool) (*etcdConn, error) {
	target := endpoint
	if _, rest, ok := strings.Cut(endpoint, "://"); ok {
		target = rest
	}
	cc, err := grpc.NewClient(target, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		return nil, err
	}
	c := &etcdConn{cc: cc, kv: pb.NewKVClient(cc), stale: stale}
	// The first request opens the connection, out of the timed run.
	if err := c.get(ctx, "warmup"); err != nil {
		cc.Close()
		return nil, err
	}
	return c, nil
}

func (c *etcdConn) put(ctx context.Context, key, value string) error {
	_, err := c.kv.Put(ctx, &pb.PutRequest{Key: []byte(key), Value: []byte(value)})
	return err
}

func (c *etcdConn) get(ctx context.Context, key string) error {
	_, err := c.kv.Range(ctx, &pb.RangeRequest{Key: []byte(key), Serializable: c.stale})
	return err
}

// incr is how an etcd client adds to a number: read it with its mod
// revision, then put the sum in a transaction that succeeds only if the
// key was not written since; on a conflict the transaction's else branch
// reads the key again, so a retry costs one round trip.
func (c *etcdConn) incr(ctx context.Context, key string) error {
	k := []byte(key)
	resp, err := c.kv.Range(ctx, &pb.RangeRequest{Key: k})
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
		txn, err := c.kv.Txn(ctx, &pb.TxnRequest{
			Compare: []*pb.Compare{{Key: k, Target: pb.Compare_MOD, Result: pb.Compare_EQUAL,
				TargetUnion: &pb.Compare_ModRevision{ModRevision: rev}}},
			Success: []*pb.RequestOp{{Request: &pb.RequestOp_RequestPut{
				RequestPut: &pb.PutRequest{Key: k, Value: strconv.AppendInt(nil, n+1, 10)}}}},
			Failure: []*pb.RequestOp{{Request: &pb.RequestOp_RequestRange{
				RequestRange: &pb.RangeRequest{Key: k}}}},
		})
		if err != nil {
			return err
		}
		if txn.Succeeded {
			return nil
		}
		kvs = txn.Responses[0].GetResponseRange().Kvs
	}
}

func (c *etcdConn) close() error { return c.cc.Close() }
