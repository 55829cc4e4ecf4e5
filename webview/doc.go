// Package webview is dsmd's live view: one web page, served from the
// binary, that shows the shared memory as it changes (the variables, who
// is connected, who holds which lock, the operations per second, the
// file's fill level and, on a cluster node, the nodes) without reloading.
// dsmd serves it with -http HOST:PORT; -http-write adds setting a
// variable from the page.
//
// # Model
//
// A View belongs to one server.Server and lives as long as it does: when
// the server begins to stop, the View closes its listener and every page's
// stream, and the pages say that dsmd is gone (and, when a new dsmd
// answers on the same address, that it is back).
//
// Each open page holds one Server-Sent Events stream (GET /events). While
// at least one page is open the View taps the server's change feed
// (server.Server.Tap) and samples the server once a second (clients,
// locks, operations, fill level, cluster); with no page open it does
// neither, so the daemon pays nothing for a view nobody looks at.
//
// # Coalescing
//
// A fast writer must not flood a browser. Each page keeps the changes not
// yet sent to it in a map, at most one entry per variable (the latest), and
// the stream sends that map at most every Config.Interval (100 ms by
// default): a variable that changes 10,000 times a second reaches a page
// ten times a second, with its latest value. A page lists at most
// Config.Limit variables (the first by name, then new ones while there is
// room) and keeps changes of those only, so the memory a page costs the
// daemon is bounded by the Limit, whatever the write rate and however many
// variables change. The sample of the server is made once per second for
// all pages together.
//
// # Access
//
// The View applies the daemon's own rules (server.Server.Admit): in
// protected mode only loopback clients, with an allow-list only those
// networks (and loopback), and with a password a login before anything is
// shown: POST /login sets a session cookie (HttpOnly, SameSite=Strict)
// that the View keeps in memory, so a restarted dsmd asks again. Without
// a password, requests must name the host by an IP address or as
// localhost, so that a web site cannot reach a loopback view through a
// DNS name that it points at 127.0.0.1. Writes (POST /api/set, only with
// Config.Write) must be JSON, which a page of another origin cannot send
// without the View's consent, and go through the daemon's SET command on
// a connection of the View's own, so that a cluster replicates them.
package webview
