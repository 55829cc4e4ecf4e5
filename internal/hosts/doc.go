// Package hosts holds the many-hosts tests: they run scripts/demo-hosts,
// whose hosts are network namespaces, each with its own address.
// TestManyHosts puts dsmd on a server host and the dsm command line on
// several client hosts, and checks from the script's output that every
// update reached every host and that dsmd's log names every host's
// address. TestClusterHosts runs the script's cluster mode: three dsmd
// nodes on hosts of their own, the seed's client and redis-cli on two
// more; it checks that every write reads back through every node, that
// the survivors of the leader's kill -9 take a write within the script's
// bound, that the restarted node catches up and that the nodes log their
// role changes.
//
// The package has no code of its own; the tests need root and the ip
// command (iproute2), and the cluster test redis-cli. Outside CI they skip
// without them and say why; in CI (CI set in the environment) they fail
// instead, because CI runs as root with iproute2 and redis-tools
// installed.
package hosts
