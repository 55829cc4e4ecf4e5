package resp_test

import (
	"bytes"
	"fmt"
	"strings"

	"github.com/dsm-dev/dsm/resp"
)

// A server loop reads commands, writes replies, and flushes when no more
// pipelined commands are waiting. A protocol error gets an error reply and
// ends the connection.
func ExampleReader_ReadCommand() {
	in := strings.NewReader("*2\r\n$4\r\nECHO\r\n$2\r\nhi\r\nPING\r\n*1\r\n$x\r\n")
	r := resp.NewReader(in, 0)
	r.SetLimits(resp.PreAuthLimits())
	var conn bytes.Buffer // stands in for the connection
	w := resp.NewWriter(&conn, 0)
	var args [][]byte
	for {
		var err error
		args, err = r.ReadCommand(args)
		if err != nil {
			if _, ok := err.(*resp.ProtocolError); ok {
				w.Error("ERR " + err.Error())
				w.Flush()
			}
			break
		}
		switch cmd := strings.ToUpper(string(args[0])); {
		case cmd == "PING":
			w.Simple("PONG")
		case cmd == "ECHO" && len(args) == 2:
			w.Bulk(args[1])
		default:
			w.Error(fmt.Sprintf("ERR unknown command '%s'", args[0]))
		}
		if r.Buffered() == 0 {
			w.Flush()
		}
	}
	fmt.Printf("%q\n", conn.String())
	// Output:
	// "$2\r\nhi\r\n+PONG\r\n-ERR Protocol error: invalid bulk length\r\n"
}

// RESP3 has types of its own; in RESP2 they become arrays, bulk strings and
// integers.
func ExampleWriter_SetProtocol() {
	for _, proto := range []int{2, 3} {
		var out bytes.Buffer
		w := resp.NewWriter(&out, 0)
		w.SetProtocol(proto)
		w.Map(1)
		w.BulkString("proto")
		w.Int(int64(proto))
		w.Bool(true)
		w.Null()
		w.Flush()
		fmt.Printf("RESP%d: %q\n", proto, out.String())
	}
	// Output:
	// RESP2: "*2\r\n$5\r\nproto\r\n:2\r\n:1\r\n$-1\r\n"
	// RESP3: "%1\r\n$5\r\nproto\r\n:3\r\n#t\r\n_\r\n"
}
