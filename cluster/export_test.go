package cluster

// SetDecoder makes the FSM of a node started with cfg decode log entries
// with dec instead of DecodeEntry: a test's stand-in for a newer dsm,
// which knows an entry format this build does not.
func SetDecoder(cfg *Config, dec func([]byte) ([][]byte, error)) { cfg.decode = dec }
