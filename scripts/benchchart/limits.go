package main

// limits is the standing explanation of what bounds each figure; the
// measured numbers above say how far each one is from its target.
const limits = `## What limits each figure

- **One request at a time (50 clients, no pipelining).** Each request costs both
  servers one read and one write system call on loopback; the kernel's TCP path
  and waking the client dominate (in a profile of dsmd under GET, 69% of its
  time is in those two calls, 9% in the index lookup's cache misses), and on a
  shared two-core machine the figures move by tens of percent from run to run
  (hence the interleaved rounds). dsmd serves each connection on its own
  goroutine: after each reply Go's netpoller makes one more read that fails
  with EAGAIN and parks the goroutine, which Redis' event loop does not pay,
  and with GOMAXPROCS above 1 the runtime wakes idle threads for the ready
  goroutines. How far Go gets here is the table "What a Go server reaches
  here": servers that do no work at all, in each of the three ways a Go
  server can serve connections (a goroutine each, an epoll loop like Redis',
  an io_uring loop that makes one system call per turn for all
  connections). In its run at 9b1f65c they reached 0.88 to 0.94 of Redis on
  SET, GET and INCR, where a server's own work is small next to the system
  calls, and none reached Redis' median; so dsmd cannot on those lines
  either. On MSET, where Redis does the work of ten keys per request, they
  ran at 1.27 to 1.34 of it: MSET's gap is dsmd's own work and the flush.
  dsmd's own work on one key is small: by hand at 29519e6, two rounds of
  500,000 unpipelined SETs, dsmd -sync never ran at 0.98 to 0.99 of the
  goroutine null server (160k against 162k req/s), 5.8 µs of CPU per
  request against 5.0 to 5.3 (perf stat task-clock). With the default
  once-a-second flush of the mapping it ran at 0.88 of the null server
  (143k), 6.7 µs per request, with 15,000 page faults a second: the flush
  write-protects every page it writes back, and the next write to each
  faults. MSET of 10 keys, the same way (300,000 requests, two rounds):
  dsmd 11.3 to 13.2 µs of CPU per request, -sync never 9.7, the null
  server 5.4, Redis 7.8 to 8.0; in a profile of dsmd -sync never under it, 12%
  of its cycles wait for the index and slot lines of the ten keys (in
  shm.Prefetch, which loads them all at once) and 8% keep the lock
  group's lane entries in the mapping (lockd lanes, which let a survivor repair
  the group if the process dies). A perf profile of dsmd under pipelined
  INCR puts the flush's share at about a sixth of its cycles: the faults
  (do_wp_page and ext4's page_mkwrite) about 6%, write-protecting the pages
  (page_vma_mkclean, with a TLB shootdown IPI to the other core for each)
  about 7%, page-table lock contention 3 to 4%. A redo log written once
  per interval in its place (tried in three variants, and backed out) moved
  the unpipelined lines by no more than the noise between runs and cost
  pipelined MSET 14 to 33%: at 1.7 million records a second the first
  variant wrote about 70 MB/s and reached its 64 MiB checkpoint, a flush of
  the mapping, every second. GOMAXPROCS=1 (DSMD_GOMAXPROCS=1) trims the
  wake-ups but moved GET and INCR by 0.02 only and cost MSET 0.05 (by hand
  at 4ea6b15, 3 rounds: GET 0.91 of Redis against 0.89, SET 0.83, INCR
  0.79, MSET 0.65 against 0.83, 0.77, 0.70), and it costs pipelined INCR
  and MSET; with one P a thread held in a page fault on the mapping also
  holds up every client, so the default stays one P per core. In the cost
  curve, whose dsmd keeps values of up to 64 bytes (384-byte slots against
  the default 768), its unpipelined SET and GET ran at 0.95 to 1.04 of
  Redis' over 10 to 100,000 variables, one round each (single rounds of SET
  in the main table, and of GET in the ceiling table, spread by more than
  that): what a request touches, and what the flush writes back, grows
  with the slots. The table "What the size of a slot costs" measures it: on
  a file whose slots are 128 bytes, dsmd's unpipelined SET and INCR come to
  about the null servers' ratios, and its MSET passes Redis'.
- **Pipelining (-P 16).** A batch is read with one read and answered with one
  write; commands are parsed in place from the read buffer, GET, SET, INCR and
  MSET allocate nothing (see server.Pipeline below). Over a keyspace of 100,000
  variables each command's variable is out of the processor's caches and TLB,
  and a lookup waits for memory several times in a row (bucket, slot, value).
  So before the first command of a read runs, the names of every whole command
  buffered behind it go to shm's Prefetch, which loads all their buckets and
  slots with loads that do not wait for one another: the batch waits for
  memory about once, not once per variable. shm.AddKeyspacePrefetch above
  measures it on one Add in a batch of 16. One command on several variables
  (MSET, MGET) is prefetched the same way, pipelined or not: by hand at
  0dad66e, unpipelined MSET of 10 keys went from 67k to 86k req/s with it
  (medians of 5 interleaved rounds). INCR takes the same fast path as a
  handle's Add (lookup, one compare-and-swap, the integer written in place);
  its runs that overlap the once-a-second flush of the mapping lose about a
  third (the flush writes back every page the run wrote to, and the first
  write to each page after it faults), which is why its rounds spread more
  than the other lines'. dsmd's pipelined p99 is several times Redis': with
  two Ps and the client there are more threads ready than cores, and a
  preempted one waits out the scheduler's time slice. By hand, -P 16 GET
  over 1,000 keys, 3 rounds: p99 1.3-4.6 ms with GOMAXPROCS=2, 0.59-0.83 ms
  with 1, Redis 0.51-0.64 ms, at about the same throughput. Redis keeps
  values in its own heap; dsmd takes locks that other processes can see and
  keeps every value in a file mapping, with room for the largest value in
  every slot (768 bytes with the defaults), which is the price of the local
  path and of crash safety. On a file sized to redis-benchmark's keys and
  values (128-byte slots, "What the size of a slot costs") the flush has a
  sixth of the pages to write back and write-protect, and every pipelined
  write line runs above Redis'. A layout that kept each variable's lock,
  version and short values together and its name and long values apart
  would give the default capacities most of that; it is a change of the
  file format, not made yet.
- **One client's latency.** A round trip of one request on loopback: the two
  servers differ by a few microseconds, and redis-benchmark reports
  percentiles in steps of about 8 µs at this scale, so a difference of one or
  two microseconds can move the median by a whole step. dsmd's extra time is
  Go's path from a parked goroutine back to running (the EAGAIN read, the
  netpoller, the scheduler), the same as in the first item. A write can also
  take a page fault: after each flush (every second by default) the kernel
  write-protects the flushed pages of the mapping, and the first write to
  each of them faults again.
- **Durable writes.** Redis (appendfsync always) appends each batch of commands
  to its log: one sequential write and one fdatasync. dsmd -sync always does
  the same with its redo log (internal/redolog): the records of the
  writes of every connection waiting are appended in one O_DSYNC write to
  pre-zeroed space (group commit), and the mapping itself is flushed only at
  checkpoints. Flushing the mapping instead (msync before each reply) made a
  batch as many random page writes as pages written, about 10 ms for 50
  scattered variables here, and durable SET ran at 0.12 of Redis. Redis'
  event loop serves every ready client before it syncs, so one fdatasync
  serves many of its 50 clients. A flush that started on the first writer
  to arrive split dsmd's clients instead into groups of about 5 that took
  turns; so a flush now first waits, for at most 1 ms and no longer than
  100 µs after the last arrival, for the writers the last flush served and
  those that were already waiting (internal/groupcommit), and the groups
  merge. Counted by hand at 29519e6 with perf's system-call tracepoints
  (which, unlike strace, do not slow the servers down) over 200,000 SETs:
  Redis made 7,726 fdatasyncs, 26 requests each, and dsmd 4,473 redo log
  writes, 45 each and 0.2 ms on average; per request the two cost about
  the same. What is left is the turnaround of each batch between two
  synchronous writes (the replies, the client's next requests, the
  server's work on them), the same per-request costs as without
  durability. In 5 interleaved rounds of 100,000 durable requests by hand
  at ccf8fa4, dsmd ran SET at 0.94 of Redis and INCR at 0.86 (medians).
  Starting a flush once half of the writers expected had come, so that two
  groups take turns as Redis' clients do, did not help (medians of 3
  rounds: SET 63.5k and INCR 61.8k req/s against 64.1k and 67.4k).
- **Memory per idle connection.** A dsmd connection holds a goroutine stack, a
  16 KiB read buffer (only its first page is touched by a PING) and a reply
  writer; Redis holds a client struct and a small query buffer. RSS counts the
  pages actually touched; Go heap and stacks count what was allocated.
- **The cost curve.** With two cores, one of them the benchmark client's, both
  servers are saturated by about 10 clients: more clients only queue, and
  latency grows with their number. Redis serves every socket from one thread,
  so at 1,000 clients its event loop stretches and its throughput falls back
  towards dsmd's, whose connections run on goroutines over both cores (dsmd's
  tail latency stays the longer of the two). Over the keyspace, reads stay
  about flat in both servers from 10 to 1,000,000 variables. dsmd's writes
  bend: a new variable is inserted into the shared index under its lock, its
  page of the file is touched for the first time (a page fault), and after
  each once-a-second flush the first write to every flushed page faults
  again: the more variables written, the more pages each flush writes back
  and the more writes fault.
- **The cluster's writes (put, increment).** A write is a Raft round, and
  the rounds wait for the disk, one write of the log after another.
  hashicorp/raft's leader appends a batch to its own log (raft-boltdb: a
  bolt commit, five to seven page writes and two fdatasyncs, seen with
  strace) and only then sends it to the followers, which append it the same
  way; the leader takes in commits, and hands them to the FSM, in the same
  loop that appends, so a commit that arrives while the next batch is being
  written waits for that write. A write sent to a follower is forwarded to
  the leader and answered once the follower's own file holds it, and a
  follower learns that an entry is committed only with the leader's next
  append, which it writes to its own log before it looks at the commit
  index. Counted inside the nodes under 50 put clients (a probe, not kept,
  at 4248c1e; clusterload load -op put -clients 50, 6 s, by hand): the
  leader wrote 7 to 10 entries per log append, each append took 2.3 to
  2.8 ms, and the leader's Raft loop spent 83% of its time in them;
  applying an entry to the file took 22 to 44 µs (under a tenth of a
  core). With the disk busier (other work on the machine), appends took 5
  to 7 ms, a proposal on the leader 30 ms from Apply to applied, and a
  write through a follower waited 9 to 19 ms more, after the leader's
  reply, for the follower's own file. So a write to the leader costs its
  client about four log appends in a row and a write through a follower
  about two more: at 2.4 ms an append, 50 clients over three nodes give at
  most about 50 / (4.8 x 2.4 ms), some 4,300 writes a second, and the
  rounds never fill with all the clients. etcd writes the leader's log
  while it sends the entries, syncs once per append, and sends the commit
  index as soon as it moves. What changed here: a follower kept at most 8
  idle streams to the leader and closed the others, so with about 17
  forwarded writes in flight it dialed and authenticated 150 new streams a
  second, one forwarded write in four; it now keeps up to 128 (put 1.22
  times as fast in three interleaved rounds before and after). What does
  not help: a 1 ms commit timeout (four interleaved rounds of 6 s: median
  2,121 puts/s against 2,151 with 5 ms; with the probe, two runs of each,
  a forwarded write's wait for the follower's own file stayed at 5 to 9 ms
  on average with either), since the leader's commit index moves only
  between its appends; raft's BatchApplyCh, since the leader's
  loop already takes every Apply waiting on its channel into one append.
  Three times etcd's puts would need fewer syncs in a row per write: a log
  store that syncs once per append (raft-boltdb syncs twice, and no other
  is approved), a Raft whose leader writes its log while it replicates, or
  followers that answer a forwarded write once it is committed and make
  that connection's next reads wait for its index, which would change what
  docs/CLUSTER.md promises (the follower's own file holds the write when it
  answers). INCR is one log entry where etcd needs a read and a
  transaction, hence its lead there (3.00 in the run above, on a machine
  loaded by other work: load average 17 at the start, every figure of both
  clusters at a third to a half of an earlier run's).
- **One client's write through a follower (p50 about 11 ms against etcd's
  2 ms).** The follower answers once its own file holds the write, so that
  the client's next read there sees it. An idle follower learns that an
  entry is committed only with the leader's next append, which Raft sends
  within one to two commit timeouts (5 ms here). A 1 ms commit timeout
  brought that write's p50 to 3.8 ms but doubled the idle CPU of every
  node (the leader from 12% to 22% of a core, followers from 5% to 9.5%),
  so the default stays. The one-client runs use node 0, which leads in
  some runs and not in others: through the leader a write took 2.3 ms
  (p50), through the two followers 10.5 and 11.1 ms (clusterload load -op
  put -clients 1 against each node, 3 s, by hand).
- **Stale reads.** A GET after READONLY is served like a single host's GET
  (no Raft round), so it is bounded as the first item says, here with
  three daemons and the load generator sharing two cores. The load
  generator was a large part of it: under 50-client stale gets go-redis
  took about as much CPU per request as the three dsmd nodes together (2.1
  s of CPU each over a 5.6 s run). Its load clients are now bare
  connections on both sides (RESP; gRPC with etcd's generated stub, without
  clientv3's balancer and interceptors); the ratio went from 4.0 in the
  run at 8d5d5f2 to 7.6 in the run above (8.0 in the second run below); by hand, two interleaved rounds of the old and the
  new client gave dsm 7,672 and 10,306 against 14,698 and 11,264 stale gets
  a second, and etcd 1,424 and 1,564 against 2,015 and 1,705. Ten times
  etcd's serializable reads would need dsm at about 20,000 a second in that
  run, where the three nodes and the client share two cores that other
  work kept busy (load average 17 to 22).
- **Leader changes under load.** The run above saw one on dsm (the term
  moved by one) and none on etcd; a second full run right after it, into
  a scratch document at 3e890e7 (load average 10.6 at its start), saw
  seven on dsm and none on etcd, none idle. They come with the stale
  reads: against one cluster, 10 s runs of 50 clients alternating
  sget and put with the bare client and go-redis (by hand, load average
  13 to 16) moved the nodes' leader-change counts in three of the four
  sget runs (by 1 to 3 on the node that counted most, both of the old
  client's runs among them) and in none of the four put runs.
  Stale reads are served on every node at once, so all three daemons run
  their cores flat out, and a dsm leader steps down when a quorum has not
  answered it for the lease, 200 ms, which a starved process misses. The
  run before these at 8d5d5f2, on a quieter machine (load average 3.3),
  saw none. The timeouts' reasoning and their measurements under CPU
  starvation are in cluster/node.go (DefaultLeaderLease).
- **Local path.** A handle Get is an optimistic read: load the version, copy the
  value, check the version again; Set and Add take the variable's lock in the
  mapping (one compare-and-swap) and release it. Across processes the
  variable's cache line and its lock move between cores, so several processes
  adding to one variable get less in aggregate than one alone: contention, not
  a lock convoy (waiters sleep on a futex in the mapping).
`
