package main

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/dsm-dev/dsm/client"
)

// result is what a command prints: plain lines the way redis-cli prints
// them when piped, or JSON objects, one per line, for scripts (-o json).
type result interface {
	plain() []string
	objects() []any
}

// format is how results are printed.
type format int

const (
	formatText format = iota
	formatJSON
)

// parseFormat reads the -o flag.
func parseFormat(s string) (format, error) {
	switch s {
	case "", "text", "plain":
		return formatText, nil
	case "json":
		return formatJSON, nil
	}
	return 0, fmt.Errorf("-o %s: want text or json", s)
}

// write prints r to w in format f.
func write(w io.Writer, f format, r result) error {
	if f == formatJSON {
		enc := json.NewEncoder(w)
		for _, o := range r.objects() {
			if err := enc.Encode(o); err != nil {
				return err
			}
		}
		return nil
	}
	for _, line := range r.plain() {
		if _, err := fmt.Fprintln(w, line); err != nil {
			return err
		}
	}
	return nil
}

// valueResult is a value that was read (get). With -o json a missing
// variable is a null value (see missingAsNull).
type valueResult struct {
	Name    string
	Value   string
	Version uint64
	Missing bool
}

func (r valueResult) plain() []string { return []string{r.Value} }
func (r valueResult) objects() []any {
	o := jsonValue{Name: r.Name, Version: r.Version}
	if !r.Missing {
		o.setValue(r.Value)
	}
	return []any{o}
}

// jsonValue is a variable as -o json prints it. A value that is not valid
// UTF-8 cannot be a JSON string without changing it (encoding/json would
// replace its bytes), so it is base64 (standard, padded) and Encoding says
// so; a missing variable's value is null.
type jsonValue struct {
	Name     string  `json:"name"`
	Value    *string `json:"value"`
	Encoding string  `json:"encoding,omitempty"`
	Version  uint64  `json:"version,omitempty"`
	Found    *bool   `json:"found,omitempty"`
}

func (o *jsonValue) setValue(v string) {
	if !utf8.ValidString(v) {
		v = base64.StdEncoding.EncodeToString([]byte(v))
		o.Encoding = "base64"
	}
	o.Value = &v
}

// missingAsNull is the result of a get of a missing variable with -o json:
// the null value rather than an error, so a script reads one object either
// way (the exit code still says 2).
func missingAsNull(f format, args []string, err error) (result, bool) {
	if f != formatJSON || !errors.Is(err, client.ErrNotFound) || len(args) < 2 || lookup(args[0]) != lookup("get") {
		return nil, false
	}
	return valueResult{Name: args[len(args)-1], Missing: true}, true
}

// okResult is a write that succeeded (set, mset).
type okResult struct{}

func (okResult) plain() []string { return []string{"OK"} }
func (okResult) objects() []any  { return []any{map[string]bool{"ok": true}} }

// intResult is the new value of an add.
type intResult struct {
	Name  string `json:"name"`
	Value int64  `json:"value"`
}

func (r intResult) plain() []string { return []string{strconv.FormatInt(r.Value, 10)} }
func (r intResult) objects() []any  { return []any{r} }

// casResult tells whether a compare-and-swap swapped.
type casResult struct {
	Name    string `json:"name"`
	Swapped bool   `json:"swapped"`
}

func (r casResult) plain() []string {
	if r.Swapped {
		return []string{"1"}
	}
	return []string{"0"}
}
func (r casResult) objects() []any { return []any{r} }

// countResult is how many variables del deleted.
type countResult struct {
	Deleted int64 `json:"deleted"`
}

func (r countResult) plain() []string { return []string{strconv.FormatInt(r.Deleted, 10)} }
func (r countResult) objects() []any  { return []any{r} }

// namesResult is the names list found.
type namesResult []string

func (r namesResult) plain() []string { return r }
func (r namesResult) objects() []any {
	out := make([]any, len(r))
	for i, n := range r {
		out[i] = map[string]string{"name": n}
	}
	return out
}

// itemsResult is what mget read; a missing variable prints as an empty line,
// as redis-cli prints a null when piped.
type itemsResult []client.Item

func (r itemsResult) plain() []string {
	out := make([]string, len(r))
	for i, it := range r {
		out[i] = it.Value
	}
	return out
}

func (r itemsResult) objects() []any {
	out := make([]any, len(r))
	for i, it := range r {
		o := jsonValue{Name: it.Name, Found: &r[i].Found}
		if it.Found {
			o.setValue(it.Value)
		}
		out[i] = o
	}
	return out
}

// replyResult is the daemon's reply to a command dsm passes through as it
// is (the prompt sends unknown commands to the daemon, like redis-cli).
type replyResult struct{ reply any }

func (r replyResult) plain() []string { return replyLines(r.reply, "") }
func (r replyResult) objects() []any  { return []any{map[string]any{"reply": jsonable(r.reply)}} }

// replyLines renders a decoded reply as redis-cli renders it when piped:
// scalars on their own line, arrays element by element, nulls as empty
// lines; nested arrays and maps are indented.
func replyLines(v any, indent string) []string {
	switch v := v.(type) {
	case nil:
		return []string{indent}
	case []any:
		var out []string
		for _, e := range v {
			out = append(out, replyLines(e, indent)...)
		}
		return out
	case map[any]any:
		var out []string
		for _, k := range sortedKeys(v) {
			out = append(out, indent+fmt.Sprint(k))
			out = append(out, replyLines(v[k], indent+"  ")...)
		}
		return out
	case string:
		var out []string
		for line := range strings.SplitSeq(strings.TrimRight(v, "\r\n"), "\n") {
			out = append(out, indent+strings.TrimRight(line, "\r"))
		}
		return out
	default:
		return []string{indent + fmt.Sprint(v)}
	}
}

// jsonable converts a decoded reply into values encoding/json accepts
// (RESP3 maps have keys of any type).
func jsonable(v any) any {
	switch v := v.(type) {
	case []any:
		out := make([]any, len(v))
		for i, e := range v {
			out[i] = jsonable(e)
		}
		return out
	case map[any]any:
		out := make(map[string]any, len(v))
		for k, e := range v {
			out[fmt.Sprint(k)] = jsonable(e)
		}
		return out
	case error:
		return v.Error()
	default:
		return v
	}
}

func sortedKeys(m map[any]any) []any {
	keys := make([]any, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool { return fmt.Sprint(keys[i]) < fmt.Sprint(keys[j]) })
	return keys
}
