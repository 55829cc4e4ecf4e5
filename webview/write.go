package webview

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// setTimeout bounds one write from the page, in a cluster its replication
// included.
const setTimeout = 10 * time.Second

// setRequest is POST /api/set's body.
type setRequest struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

// set stores a variable from the page (Config.Write only) through the
// daemon's SET, as a client of its own, and answers the daemon's reply.
func (v *View) set(w http.ResponseWriter, r *http.Request) {
	if !v.cfg.Write {
		http.Error(w, "this view is read-only: start dsmd with -http-write to set variables from the page", http.StatusForbidden)
		return
	}
	// JSON only: a form of another site cannot send it without a
	// preflight that the view never grants.
	if ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); ct != "application/json" {
		http.Error(w, "send JSON (Content-Type: application/json)", http.StatusUnsupportedMediaType)
		return
	}
	if o := r.Header.Get("Origin"); o != "" && o != "http://"+r.Host && o != "https://"+r.Host {
		http.Error(w, "a page of another origin may not write", http.StatusForbidden)
		return
	}
	var req setRequest
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<20)).Decode(&req); err != nil {
		http.Error(w, "bad request: "+err.Error(), http.StatusBadRequest)
		return
	}
	if req.Name == "" {
		http.Error(w, "a variable needs a name", http.StatusBadRequest)
		return
	}
	reply, err := v.command("SET", req.Name, req.Value)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	if msg, failed := strings.CutPrefix(reply, "-"); failed {
		http.Error(w, msg, http.StatusUnprocessableEntity)
		return
	}
	v.log.Info("web view set a variable", "addr", r.RemoteAddr, "name", req.Name)
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	io.WriteString(w, strings.TrimPrefix(reply, "+")+"\n")
}

// command runs one command on a connection of the view's own (named
// dsm-web in CLIENT LIST) and returns the reply's line: "+OK", "-ERR ...".
func (v *View) command(args ...string) (string, error) {
	nc, err := v.srv.DialLocal()
	if err != nil {
		return "", fmt.Errorf("dsmd is stopping: %w", err)
	}
	defer nc.Close()
	nc.SetDeadline(time.Now().Add(setTimeout))
	var b strings.Builder
	writeCommand(&b, "CLIENT", "SETNAME", "dsm-web")
	writeCommand(&b, args...)
	if _, err := io.WriteString(nc, b.String()); err != nil {
		return "", err
	}
	br := bufio.NewReader(nc)
	var line string
	for range 2 {
		if line, err = br.ReadString('\n'); err != nil {
			return "", errors.New("dsmd did not answer: " + err.Error())
		}
	}
	return strings.TrimRight(line, "\r\n"), nil
}

// writeCommand encodes args as a RESP array of bulk strings.
func writeCommand(b *strings.Builder, args ...string) {
	b.WriteString("*" + strconv.Itoa(len(args)) + "\r\n")
	for _, a := range args {
		b.WriteString("$" + strconv.Itoa(len(a)) + "\r\n" + a + "\r\n")
	}
}
