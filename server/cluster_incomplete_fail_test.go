//go:build dsmfail

package server

import (
	"context"
	"runtime"
	"testing"

	"github.com/dsm-dev/dsm/shm"
)

// A cluster node whose file holds an install cut short (here a flush
// stopped after its first variable, at shm's FailInstalling, as a kill
// would stop it) starts: it opens the file with AllowIncomplete and
// installs its latest snapshot again, ending with the leader's variables.
// A single host would refuse the file with ErrInstallIncomplete.
func TestClusterIncompleteFileReinstalled(t *testing.T) {
	tc := startCluster(t, 3, nil)
	f := tc.follower()
	clusterWrites(t, tc, tc.leader(), 10)
	tc.dump(f)
	if err := tc.nodes[f].cl.node.Snapshot(); err != nil {
		t.Fatal(err)
	}
	tc.kill(f)
	m, err := shm.Open(shm.Config{Path: tc.nodes[f].file})
	if err != nil {
		t.Fatal(err)
	}
	remove := shm.SetFailHook(shm.FailInstalling, runtime.Goexit)
	done := make(chan struct{})
	go func() {
		defer close(done)
		m.Flush(context.Background())
		t.Error("the flush was not cut short")
	}()
	<-done
	remove()
	m.Close()
	if _, err := shm.Open(shm.Config{Path: tc.nodes[f].file}); err == nil {
		t.Fatal("the cut flush left a file that opens")
	}
	clusterWrites(t, tc, tc.leader(), 3)

	tc.restart(f)
	if got, want := tc.dump(f), tc.dump(tc.leader()); got != want {
		t.Errorf("the reinstalled node holds\n%s\nthe leader\n%s", got, want)
	}
	if err := tc.nodes[f].mem.Check(); err != nil {
		t.Errorf("Check: %v", err)
	}
}
