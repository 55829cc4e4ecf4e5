package cluster

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"slices"

	"github.com/dsm-dev/dsm/shm"
)

// Digest is a digest of m's variables: every name, value and version (the
// reserved variables left out), in name order, through the snapshot
// encoding, so two files whose variables are alike have the same digest
// whatever their slots, hash seeds and capacities, and a node that diverged from the others is seen
// by comparing theirs (DEBUG DIGEST). It is not taken at one instant:
// compare digests of nodes that have applied the same index while nothing
// is written.
func Digest(m *shm.Memory) (string, error) {
	s, err := takeSnapshot(m, 0)
	if err != nil {
		return "", err
	}
	// The variables alone: not the file's layout (hash seed, capacities).
	s.seed, s.limits = 0, shm.Limits{}
	slices.SortFunc(s.vars, func(a, b snapVar) int { return bytes.Compare(a.name, b.name) })
	h := sha256.New()
	if err := s.encode(h); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)[:20]), nil
}
