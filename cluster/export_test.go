package cluster

// SetDecoder makes the FSM of a node started with cfg decode log entries
// with dec instead of DecodeEntry: a test's stand-in for a newer dsm,
// which knows an entry format this build does not.
func SetDecoder(cfg *Config, dec func([]byte) ([][]byte, error)) { cfg.decode = dec }

// LoadLocks keeps f's lock table in path (NewNode does it for a node).
func LoadLocks(f *FSM, path string) error { return f.loadLocks(path) }

// LocksAhead reports whether f's lock file was ahead of its memory file
// when loaded.
func LocksAhead(f *FSM) bool { return f.locksAhead }

// RPCDials returns how many streams n has dialed for its own requests.
func RPCDials(n *Node) uint64 { return n.rpc.dials.Load() }
