package server

import (
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"syscall"

	"github.com/dsm-dev/dsm/shm"
)

// The file socket: a cluster node's daemon serves its local processes
// (package shm, dsm -file) on a Unix socket beside the file
// (shm.SocketPath), through which they write the replicated file. It
// speaks what the TCP port speaks. Its mode and group are the file's, so
// exactly those who may map the file may connect; they are admitted
// without AUTH, a password being no secret from someone who can read the
// file (and the client-held state a password guards, LOCK, is refused in a
// cluster anyway). The socket is removed when the server stops, and
// replaced at start: the server holds the file's daemon lock, so a socket
// already there is a dead daemon's.

// listenFileSocket binds the file's socket with the file's permissions.
// It binds in a directory of its own (mode 0700) beside the file, sets
// the socket's mode and group, then renames it into place, so that the
// socket is never reachable with other permissions, and a stale one is
// replaced in one step.
func (s *Server) listenFileSocket() (*net.UnixListener, error) {
	path := shm.SocketPath(s.mem.Path())
	st, err := os.Stat(s.mem.Path())
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp(filepath.Dir(path), "."+filepath.Base(path)+"-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	tmp := filepath.Join(dir, "s")
	l, err := net.ListenUnix("unix", &net.UnixAddr{Name: tmp, Net: "unix"})
	if err != nil {
		return nil, err
	}
	l.SetUnlinkOnClose(false) // the socket moves; serveFileSocket removes it
	if err := placeSocket(tmp, path, st); err != nil {
		l.Close()
		return nil, fmt.Errorf("local processes' socket %s: %w", path, err)
	}
	return l, nil
}

// placeSocket gives the socket at tmp the mode and group of the file
// described by st and renames it to path.
func placeSocket(tmp, path string, st os.FileInfo) error {
	if sys, ok := st.Sys().(*syscall.Stat_t); ok {
		if err := os.Lchown(tmp, -1, int(sys.Gid)); err != nil {
			return err
		}
	}
	if err := os.Chmod(tmp, st.Mode().Perm()); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// serveFileSocket serves the local processes' socket until the server
// stops, then removes it.
func (s *Server) serveFileSocket(l *net.UnixListener) {
	path := shm.SocketPath(s.mem.Path())
	defer os.Remove(path)
	if err := s.serveListener(l, true); !errors.Is(err, ErrServerClosed) {
		s.log.Error("local processes' socket failed", "socket", path, "err", err)
	}
}
