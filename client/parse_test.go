package client_test

import (
	"errors"
	"testing"
	"time"

	"github.com/dsm-dev/dsm/client"
)

func TestParseInfo(t *testing.T) {
	raw := "# Server\r\nredis_version:7.2.0\r\nprocess_id:42\r\n\r\n# Keyspace\r\ndb0:keys=3,expires=0,avg_ttl=0\r\n"
	info := client.ParseInfo(raw)
	if info["redis_version"] != "7.2.0" || info["process_id"] != "42" || info["db0"] != "keys=3,expires=0,avg_ttl=0" {
		t.Fatalf("ParseInfo = %v", info)
	}
	if len(info) != 3 {
		t.Fatalf("ParseInfo kept %d fields, want 3: %v", len(info), info)
	}
}

func TestParseClientList(t *testing.T) {
	raw := "id=3 addr=127.0.0.1:5000 laddr=127.0.0.1:12345 fd=8 name=dsm age=12 idle=2 flags=N db=0 cmd=client|list\n" +
		"id=4 addr=10.0.0.2:6000 name= age=1 idle=0 cmd=get\n\n"
	list := client.ParseClientList(raw)
	if len(list) != 2 {
		t.Fatalf("got %d clients, want 2", len(list))
	}
	c := list[0]
	if c.ID != 3 || c.Addr != "127.0.0.1:5000" || c.Name != "dsm" || c.Age != 12*time.Second || c.Idle != 2*time.Second || c.Cmd != "client|list" {
		t.Fatalf("first client = %+v", c)
	}
	if list[1].Name != "" || list[1].Fields["fd"] != "" {
		t.Fatalf("second client = %+v", list[1])
	}
}

func TestErrorKinds(t *testing.T) {
	if !errors.Is(client.ErrAuth, client.ErrRefused) {
		t.Fatal("ErrAuth is not an ErrRefused")
	}
	if errors.Is(client.ErrRefused, client.ErrAuth) {
		t.Fatal("ErrRefused is an ErrAuth")
	}
	cause := errors.New("EOF")
	err := error(&client.Error{Op: "get", Name: "x", Kind: client.ErrUnreachable, Err: cause})
	if got, want := err.Error(), "get x: daemon unreachable: EOF"; got != want {
		t.Fatalf("Error() = %q, want %q", got, want)
	}
	if !errors.Is(err, client.ErrUnreachable) || !errors.Is(err, cause) {
		t.Fatal("errors.Is misses the kind or the cause")
	}
}

// TestParseChange: a payload is "VERSION VALUE", "VERSION" for a deletion,
// or "VERSION!ERROR" for a value the daemon found damaged; a value may
// hold spaces and "!".
func TestParseChange(t *testing.T) {
	for _, tt := range []struct {
		payload string
		want    client.Change
	}{
		{"17 hello world", client.Change{Name: "x", Version: 17, Value: "hello world"}},
		{"18 a!b", client.Change{Name: "x", Version: 18, Value: "a!b"}},
		{"19", client.Change{Name: "x", Version: 19, Deleted: true}},
		{`20!shm: file is damaged: slot 0 ("x"): value of unknown kind 7`,
			client.Change{Name: "x", Version: 20, Damage: `shm: file is damaged: slot 0 ("x"): value of unknown kind 7`}},
	} {
		if got, err := client.ParseChange("__dsm__:x", tt.payload); err != nil || got != tt.want {
			t.Errorf("ParseChange(%q) = %+v, %v; want %+v", tt.payload, got, err, tt.want)
		}
	}
	for _, bad := range []string{"", "x", "!oops", " 5"} {
		if _, err := client.ParseChange("__dsm__:x", bad); err == nil {
			t.Errorf("ParseChange(%q) accepted a payload with no version", bad)
		}
	}
}
