package cluster

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"fmt"
	"io"
	"net"
	"time"
)

// The cluster port's handshake. Every connection to a node's cluster port,
// Raft or RPC, begins with it; nothing else is read before it succeeds.
//
//	dialer   → acceptor: magic "DSMC", version, stream kind, nonce D (32 bytes)
//	acceptor → dialer:   nonce A (32 bytes), HMAC(secret, "acceptor", kind, D, A)
//	dialer   → acceptor: HMAC(secret, "dialer", kind, D, A)
//	acceptor → dialer:   one byte, handshakeOK
//
// Each side proves it knows the cluster secret over a nonce the other one
// just chose, so the secret never crosses the wire and a recorded
// handshake is useless on another connection; the role in the MAC stops a
// side from reflecting the other's proof back, the kind stops a proof for
// one stream kind from opening another. The acceptor proves itself first
// so that a dialer never sends its proof to a stranger. Proofs are
// compared in constant time. The whole exchange has a deadline
// (handshakeTimeout); a connection that fails it is closed with nothing
// served.
const (
	handshakeMagic   = "DSMC"
	handshakeVersion = 1
	nonceSize        = 32
	handshakeOK      = 1
	handshakeTimeout = 5 * time.Second
)

// streamKind tells the two kinds of stream on the cluster port apart.
type streamKind byte

const (
	kindRaft streamKind = 1 // hashicorp/raft's transport
	kindRPC  streamKind = 2 // the node's own requests (rpc.go)
)

// proof is the HMAC-SHA256 with which a side proves it knows the secret.
func proof(secret []byte, role string, kind streamKind, dialerNonce, acceptorNonce []byte) []byte {
	h := hmac.New(sha256.New, secret)
	h.Write([]byte(handshakeMagic))
	h.Write([]byte{handshakeVersion})
	h.Write([]byte(role))
	h.Write([]byte{0, byte(kind)})
	h.Write(dialerNonce)
	h.Write(acceptorNonce)
	return h.Sum(nil)
}

// dialHandshake runs the dialer's side on conn, which must be fresh,
// within timeout.
func dialHandshake(conn net.Conn, secret []byte, kind streamKind, timeout time.Duration) error {
	if err := conn.SetDeadline(time.Now().Add(timeout)); err != nil {
		return err
	}
	hello := make([]byte, 0, len(handshakeMagic)+2+nonceSize)
	hello = append(hello, handshakeMagic...)
	hello = append(hello, handshakeVersion, byte(kind))
	nonce := make([]byte, nonceSize)
	rand.Read(nonce)
	hello = append(hello, nonce...)
	if _, err := conn.Write(hello); err != nil {
		return err
	}
	in := make([]byte, nonceSize+sha256.Size)
	if _, err := io.ReadFull(conn, in); err != nil {
		return fmt.Errorf("%w: %w", ErrAuth, err)
	}
	theirs, theirProof := in[:nonceSize], in[nonceSize:]
	if !hmac.Equal(theirProof, proof(secret, "acceptor", kind, nonce, theirs)) {
		return fmt.Errorf("%w: the node does not know the cluster secret", ErrAuth)
	}
	if _, err := conn.Write(proof(secret, "dialer", kind, nonce, theirs)); err != nil {
		return err
	}
	var ok [1]byte
	if _, err := io.ReadFull(conn, ok[:]); err != nil || ok[0] != handshakeOK {
		return fmt.Errorf("%w: refused by the node", ErrAuth)
	}
	return conn.SetDeadline(time.Time{})
}

// acceptHandshake runs the acceptor's side on conn and returns the stream
// kind the dialer asked for. On error the caller closes conn.
func acceptHandshake(conn net.Conn, secret []byte) (streamKind, error) {
	if err := conn.SetDeadline(time.Now().Add(handshakeTimeout)); err != nil {
		return 0, err
	}
	hello := make([]byte, len(handshakeMagic)+2+nonceSize)
	if _, err := io.ReadFull(conn, hello); err != nil {
		return 0, err
	}
	kind := streamKind(hello[len(handshakeMagic)+1])
	switch {
	case string(hello[:len(handshakeMagic)]) != handshakeMagic:
		return 0, fmt.Errorf("%w: not a cluster handshake", ErrAuth)
	case hello[len(handshakeMagic)] != handshakeVersion:
		return 0, fmt.Errorf("%w: handshake version %d", ErrAuth, hello[len(handshakeMagic)])
	case kind != kindRaft && kind != kindRPC:
		return 0, fmt.Errorf("%w: stream kind %d", ErrAuth, kind)
	}
	theirs := hello[len(handshakeMagic)+2:]
	nonce := make([]byte, nonceSize)
	rand.Read(nonce)
	out := append(nonce[:nonceSize:nonceSize], proof(secret, "acceptor", kind, theirs, nonce)...)
	if _, err := conn.Write(out); err != nil {
		return 0, err
	}
	theirProof := make([]byte, sha256.Size)
	if _, err := io.ReadFull(conn, theirProof); err != nil {
		return 0, err
	}
	if !hmac.Equal(theirProof, proof(secret, "dialer", kind, theirs, nonce)) {
		return 0, fmt.Errorf("%w: the dialer does not know the cluster secret", ErrAuth)
	}
	if _, err := conn.Write([]byte{handshakeOK}); err != nil {
		return 0, err
	}
	return kind, conn.SetDeadline(time.Time{})
}
