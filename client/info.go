package client

import (
	"bufio"
	"context"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// Info is the daemon's INFO reply: each "field:value" line by field name.
// Section headers ("# Server") and blank lines are dropped; field names are
// unique across sections in Redis' format, so one map holds them all.
type Info map[string]string

// ClientInfo is one line of the daemon's CLIENT LIST.
type ClientInfo struct {
	// ID is the daemon's number for the connection.
	ID int64
	// Addr is the client's address, "host:port".
	Addr string
	// Name is the name the client gave itself (CLIENT SETNAME), if any.
	Name string
	// Age is how long the connection has been open.
	Age time.Duration
	// Idle is how long since the connection's last command.
	Idle time.Duration
	// Cmd is the last command the connection ran.
	Cmd string
	// Fields holds every field of the line, including the ones above.
	Fields map[string]string
}

// Info returns the daemon's INFO reply for the given sections (none means
// the default ones).
func (c *Client) Info(ctx context.Context, sections ...string) (Info, error) {
	var raw string
	err := c.read(ctx, "info", "", func(r *redis.Client) (err error) {
		raw, err = r.Info(ctx, sections...).Result()
		return err
	})
	if err != nil {
		return nil, err
	}
	return ParseInfo(raw), nil
}

// ParseInfo parses the text of an INFO reply.
func ParseInfo(raw string) Info {
	info := Info{}
	sc := bufio.NewScanner(strings.NewReader(raw))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if k, v, ok := strings.Cut(line, ":"); ok {
			info[k] = v
		}
	}
	return info
}

// Clients returns the daemon's list of connected clients (CLIENT LIST),
// including this one.
func (c *Client) Clients(ctx context.Context) ([]ClientInfo, error) {
	var raw string
	err := c.read(ctx, "client list", "", func(r *redis.Client) (err error) {
		raw, err = r.ClientList(ctx).Result()
		return err
	})
	if err != nil {
		return nil, err
	}
	return ParseClientList(raw), nil
}

// ParseClientList parses the text of a CLIENT LIST reply: one client per
// line, as space-separated key=value fields.
func ParseClientList(raw string) []ClientInfo {
	var list []ClientInfo
	for line := range strings.Lines(raw) {
		fields := map[string]string{}
		for _, f := range strings.Fields(line) {
			if k, v, ok := strings.Cut(f, "="); ok {
				fields[k] = v
			}
		}
		if len(fields) == 0 {
			continue
		}
		id, _ := strconv.ParseInt(fields["id"], 10, 64)
		list = append(list, ClientInfo{
			ID:     id,
			Addr:   fields["addr"],
			Name:   fields["name"],
			Age:    seconds(fields["age"]),
			Idle:   seconds(fields["idle"]),
			Cmd:    fields["cmd"],
			Fields: fields,
		})
	}
	return list
}

func seconds(s string) time.Duration {
	n, _ := strconv.ParseInt(s, 10, 64)
	return time.Duration(n) * time.Second
}
