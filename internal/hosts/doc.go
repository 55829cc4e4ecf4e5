// Package hosts holds the many-hosts test: it runs scripts/demo-hosts,
// which puts dsmd on a server host and the dsm command line on several
// client hosts, each a network namespace with its own address, and checks
// from the script's output that every update reached every host and that
// dsmd's log names every host's address.
//
// The package has no code of its own; the test needs root and the ip
// command (iproute2). Outside CI it skips without them and says why; in CI
// (CI set in the environment) it fails instead, because CI runs as root
// with iproute2 installed.
package hosts
