package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/dsm-dev/dsm/client"
)

const watchUsage = "usage: watch [-n COUNT] NAME|PATTERN..."

// changeSource delivers the changes that watch prints.
type changeSource interface {
	Next(ctx context.Context) (client.Change, error)
	Close() error
}

// runWatch prints every change of the variables named or matching the
// patterns until interrupted (SIGINT, SIGTERM) or, with -n, after COUNT
// changes. Changes close together may be merged: the latest value is never
// missed.
func runWatch(ctx context.Context, cfg *config, args []string, stdout, stderr io.Writer) int {
	count, names, err := parseWatch(args)
	if err != nil {
		return fail(stderr, cfg.format, err)
	}
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	src, err := openWatch(ctx, cfg, names)
	if err != nil {
		return fail(stderr, cfg.format, err)
	}
	defer src.Close()
	for i := 0; count == 0 || i < count; i++ {
		ch, err := src.Next(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return exitOK // interrupted: the normal end of a watch
			}
			return fail(stderr, cfg.format, err)
		}
		if err := printChange(stdout, cfg.format, time.Now(), ch); err != nil {
			return fail(stderr, cfg.format, err)
		}
	}
	return exitOK
}

// parseWatch reads [-n COUNT] NAME...
func parseWatch(args []string) (int, []string, error) {
	count := 0
	if len(args) >= 2 && args[0] == "-n" {
		n, err := strconv.Atoi(args[1])
		if err != nil || n < 1 {
			return 0, nil, &usageError{msg: watchUsage + " (COUNT is a positive number)"}
		}
		count, args = n, args[2:]
	}
	if len(args) == 0 {
		return 0, nil, &usageError{msg: watchUsage}
	}
	return count, args, nil
}

// splitPatterns separates a watch's names from its glob patterns.
func splitPatterns(args []string) (names, patterns []string) {
	for _, a := range args {
		if strings.ContainsAny(a, "*?[") {
			patterns = append(patterns, a)
		} else {
			names = append(names, a)
		}
	}
	return names, patterns
}

func openWatch(ctx context.Context, cfg *config, names []string) (changeSource, error) {
	if cfg.file != "" {
		return watchLocal(cfg.file, names)
	}
	opts, err := cfg.clientOptions()
	if err != nil {
		return nil, &usageError{msg: err.Error()}
	}
	dctx, cancel := context.WithTimeout(ctx, cfg.timeout)
	defer cancel()
	c, err := client.Dial(dctx, cfg.addr, &opts)
	if err != nil {
		return nil, err
	}
	src, err := watchRemote(dctx, c, names)
	if err != nil {
		c.Close()
		return nil, err
	}
	return src, nil
}

// printChange prints one change: "TIME NAME VALUE (version N)", with
// "(deleted)" for the value of a deleted variable and "(damaged: ERROR)"
// for one found damaged in the file; with -o json one object.
func printChange(w io.Writer, f format, at time.Time, ch client.Change) error {
	stamp := at.Format("2006-01-02T15:04:05.000Z07:00")
	if f == formatJSON {
		o := struct {
			Time string `json:"time"`
			jsonValue
			Deleted bool   `json:"deleted"`
			Damage  string `json:"damage,omitempty"`
		}{Time: stamp, jsonValue: jsonValue{Name: ch.Name, Version: ch.Version}, Deleted: ch.Deleted, Damage: ch.Damage}
		o.setValue(ch.Value)
		return json.NewEncoder(w).Encode(o)
	}
	value := ch.Value
	switch {
	case ch.Damage != "":
		value = "(damaged: " + ch.Damage + ")"
	case ch.Deleted:
		value = "(deleted)"
	}
	_, err := fmt.Fprintf(w, "%s %s %s (version %d)\n", stamp, ch.Name, value, ch.Version)
	return err
}

// remoteWatch merges the subscriptions by name and by pattern of one
// watch.
type remoteWatch struct {
	c       *client.Client
	subs    []*client.Subscription
	changes chan client.Change
	errs    chan error
	cancel  context.CancelFunc
	readers sync.WaitGroup // one per subscription, until Close
}

func watchRemote(ctx context.Context, c *client.Client, names []string) (*remoteWatch, error) {
	plain, patterns := splitPatterns(names)
	w := &remoteWatch{c: c, changes: make(chan client.Change), errs: make(chan error, 2)}
	if len(plain) > 0 {
		sub, err := c.Subscribe(ctx, plain...)
		if err != nil {
			return nil, err
		}
		w.subs = append(w.subs, sub)
	}
	if len(patterns) > 0 {
		sub, err := c.PSubscribe(ctx, patterns...)
		if err != nil {
			w.closeSubs()
			return nil, err
		}
		w.subs = append(w.subs, sub)
	}
	w.start()
	return w, nil
}

// start runs one reader per subscription; Close stops them.
func (w *remoteWatch) start() {
	ctx, cancel := context.WithCancel(context.Background())
	w.cancel = cancel
	for _, sub := range w.subs {
		w.readers.Go(func() {
			for {
				ch, err := sub.Next(ctx)
				if err != nil {
					w.errs <- err
					return
				}
				select {
				case w.changes <- ch:
				case <-ctx.Done():
					return
				}
			}
		})
	}
}

func (w *remoteWatch) Next(ctx context.Context) (client.Change, error) {
	select {
	case ch := <-w.changes:
		return ch, nil
	case err := <-w.errs:
		return client.Change{}, err
	case <-ctx.Done():
		return client.Change{}, ctx.Err()
	}
}

func (w *remoteWatch) closeSubs() {
	for _, sub := range w.subs {
		sub.Close()
	}
}

func (w *remoteWatch) Close() error {
	w.cancel()
	w.closeSubs()
	w.readers.Wait()
	return w.c.Close()
}
