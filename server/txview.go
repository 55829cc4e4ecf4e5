package server

import "slices"

// txView lets the commands that list or count every variable (KEYS, SCAN,
// DBSIZE) see, inside EXEC, the writes the transaction has staged, as
// Redis' do: the memory has none of them until the commit. It knows which
// of the group's variables existed before the transaction, and reads their
// staged state through the group.
type txView struct {
	v      *heldVars
	before map[string]bool // each of the group's names: had a value before EXEC
}

// newTxView notes the group's variables as they are before any queued
// command runs.
func newTxView(v *heldVars) *txView {
	t := &txView{v: v, before: map[string]bool{}}
	for _, name := range v.g.Names() {
		it, _ := v.Get(name)
		t.before[string(name)] = it.Found
	}
	return t
}

// now reports whether name has a value as the transaction left it so far.
func (t *txView) now(name []byte) bool {
	it, err := t.v.Get(name)
	return err == nil && it.Found
}

// delta is how many more variables the transaction's writes so far leave.
func (t *txView) delta() int {
	n := 0
	for name, was := range t.before {
		switch now := t.now([]byte(name)); {
		case now && !was:
			n++
		case was && !now:
			n--
		}
	}
	return n
}

// filter drops from a page of the memory's names those the transaction
// removed, and on the last page adds those it created that keep(name).
func (t *txView) filter(names [][]byte, last bool, keep func([]byte) bool) [][]byte {
	out := names[:0]
	for _, name := range names {
		if was, held := t.before[string(name)]; !held || !was || t.now(name) {
			out = append(out, name)
		}
	}
	if !last {
		return out
	}
	for _, name := range sortedNames(t.before) {
		if !t.before[name] && t.now([]byte(name)) && keep([]byte(name)) {
			out = append(out, []byte(name))
		}
	}
	return out
}

func sortedNames(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}
