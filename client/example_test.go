package client_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"os"
	"testing"

	"github.com/dsm-dev/dsm/client"
	"github.com/dsm-dev/dsm/internal/dsmtest"
	"github.com/dsm-dev/dsm/server"
	"github.com/redis/go-redis/v9"
)

type quiet struct{}

func (quiet) Printf(context.Context, string, ...any) {}

// daemonAddr is the address of the daemon the examples talk to: TestMain
// starts one for them, as dsmd would run on a host of yours.
var daemonAddr string

func TestMain(m *testing.M) {
	os.Exit(runWithDaemon(m))
}

func runWithDaemon(m *testing.M) int {
	// go-redis logs every refused dial by itself; the tests refuse many.
	redis.SetLogger(quiet{})
	dir, err := os.MkdirTemp("", "dsm-client-examples")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	d, err := dsmtest.StartIn(dir, server.Config{})
	if err != nil {
		log.Fatal(err)
	}
	defer d.Stop()
	daemonAddr = d.Addr
	return m.Run()
}

func Example() {
	ctx := context.Background()
	c, err := client.Dial(ctx, daemonAddr, nil)
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()

	if err := c.Set(ctx, "example:greeting", "hello"); err != nil {
		log.Fatal(err)
	}
	v, err := c.Get(ctx, "example:greeting")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(v)
	// Output: hello
}

// A cluster's nodes are given as several addresses: the Client uses the
// first that answers (here the first has no daemon) and moves to another
// when its node fails.
func ExampleDial_cluster() {
	ctx := context.Background()
	c, err := client.Dial(ctx, "127.0.0.1:1,"+daemonAddr, nil)
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	fmt.Println(c.Addr() == daemonAddr)
	// Output: true
}

func ExampleClient_Add() {
	ctx := context.Background()
	c, err := client.Dial(ctx, daemonAddr, nil)
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()

	for range 3 {
		if _, err := c.Add(ctx, "example:visits", 1); err != nil {
			log.Fatal(err)
		}
	}
	n, err := c.Add(ctx, "example:visits", 10)
	fmt.Println(n, err)
	// Output: 13 <nil>
}

func ExampleClient_CAS() {
	ctx := context.Background()
	c, err := client.Dial(ctx, daemonAddr, nil)
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()

	// A leader epoch moves forward only from the value the caller saw.
	_ = c.Set(ctx, "example:epoch", "4")
	swapped, _ := c.CAS(ctx, "example:epoch", "4", "5")
	fmt.Println("4 -> 5:", swapped)
	swapped, _ = c.CAS(ctx, "example:epoch", "4", "5")
	fmt.Println("4 -> 5 again:", swapped)
	// Output:
	// 4 -> 5: true
	// 4 -> 5 again: false
}

func ExampleClient_MGet() {
	ctx := context.Background()
	c, err := client.Dial(ctx, daemonAddr, nil)
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()

	if err := c.MSet(ctx, "example:a", "1", "example:b", "2"); err != nil {
		log.Fatal(err)
	}
	items, err := c.MGet(ctx, "example:a", "example:none", "example:b")
	if err != nil {
		log.Fatal(err)
	}
	for _, it := range items {
		fmt.Println(it.Name, it.Value, it.Found)
	}
	// Output:
	// example:a 1 true
	// example:none  false
	// example:b 2 true
}

func ExampleClient_List() {
	ctx := context.Background()
	c, err := client.Dial(ctx, daemonAddr, nil)
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()

	for _, name := range []string{"example:list:b", "example:list:a", "example:other"} {
		if err := c.Set(ctx, name, "1"); err != nil {
			log.Fatal(err)
		}
	}
	names, err := c.List(ctx, "example:list:*")
	fmt.Println(names, err)
	// Output: [example:list:a example:list:b] <nil>
}

func ExampleErrNotFound() {
	ctx := context.Background()
	c, err := client.Dial(ctx, daemonAddr, nil)
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()

	_, err = c.Get(ctx, "example:never-set")
	fmt.Println(errors.Is(err, client.ErrNotFound))
	fmt.Println(err)
	// Output:
	// true
	// get example:never-set: no such variable
}
