package torture

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/anishathalye/porcupine"
)

// TestCheckerVerdicts shows that the model and checker catch what the
// torture test looks for, and accept what it must accept.
func TestCheckerVerdicts(t *testing.T) {
	set := func(c int, v, call, ret int64) porcupine.Operation {
		return porcupine.Operation{ClientId: c, Input: input{kind: opSet, key: "x", a: v}, Output: output{known: true}, Call: call, Return: ret}
	}
	get := func(c int, v, call, ret int64) porcupine.Operation {
		return porcupine.Operation{ClientId: c, Input: input{kind: opGet, key: "x"}, Output: output{known: true, val: v}, Call: call, Return: ret}
	}
	lost := func(c int, v, call, ret int64) porcupine.Operation {
		return porcupine.Operation{ClientId: c, Input: input{kind: opSet, key: "x", a: v}, Output: output{}, Call: call, Return: ret}
	}
	add := func(c int, d, sum, call, ret int64) porcupine.Operation {
		return porcupine.Operation{ClientId: c, Input: input{kind: opAdd, key: "x", a: d}, Output: output{known: true, val: sum}, Call: call, Return: ret}
	}
	cases := []struct {
		name string
		ops  []porcupine.Operation
		want porcupine.CheckResult
	}{
		{"acknowledged write lost", []porcupine.Operation{set(0, 1, 0, 10), set(1, 2, 20, 30), get(0, 1, 40, 50)}, porcupine.Illegal},
		{"read in order", []porcupine.Operation{set(0, 1, 0, 10), set(1, 2, 20, 30), get(0, 2, 40, 50)}, porcupine.Ok},
		{"unacknowledged write applied", []porcupine.Operation{set(0, 1, 0, 10), lost(1, 2, 20, 25), get(0, 2, 40, 50)}, porcupine.Ok},
		{"unacknowledged write not applied", []porcupine.Operation{set(0, 1, 0, 10), lost(1, 2, 20, 25), get(0, 1, 40, 50)}, porcupine.Ok},
		{"unacknowledged write applied after its process died", []porcupine.Operation{set(0, 1, 0, 10), lost(1, 2, 20, 25), get(0, 1, 40, 50), get(0, 2, 60, 70)}, porcupine.Illegal},
		{"add counted twice", []porcupine.Operation{set(0, 1, 0, 10), add(1, 1, 2, 20, 30), add(0, 1, 2, 40, 50)}, porcupine.Illegal},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			res, info := porcupine.CheckOperationsVerbose(model, c.ops, 0)
			if res != c.want {
				t.Fatalf("checker says %s, want %s", res, c.want)
			}
			path := filepath.Join(t.TempDir(), "history.html")
			if err := porcupine.VisualizePath(model, info, path); err != nil {
				t.Fatal(err)
			}
			if st, err := os.Stat(path); err != nil || st.Size() == 0 {
				t.Fatalf("visualization: %v", err)
			}
		})
	}
}
