// Package dsmtest runs dsmd servers inside tests: on 127.0.0.1, on a file
// in the test's temporary directory, stopped when the test ends, and able to
// restart on the same address and file. It also makes TLS certificates.
//
// It is test support for the packages that talk to the daemon (client,
// cmd/dsm): each test gets a daemon of its own, so tests never share
// variables, and Restart proves that clients outlive a daemon.
package dsmtest
