// Package collective is shoal's communication library for synchronous data
// parallelism: allreduce, reduce-scatter, allgather, broadcast and barrier
// among a fixed group of ranks, over TCP or shared memory, with a deadline on
// everything.
//
// # Connecting
//
// Each rank calls Dial with its rank and the addresses of all ranks. It
// listens on its own address, connects to the lower ranks and accepts the
// higher ones, one connection per pair, checking a handshake (rank, world
// size, options, host):
//
//	c, err := collective.Dial(ctx, collective.Config{
//		Rank:  rank,
//		Addrs: []string{"10.0.0.1:7070", "10.0.0.2:7070"},
//	})
//	if err != nil { ... }
//	defer c.Close()
//
// With Transport left at TransportAuto, ranks that report the same host
// (kernel boot id and host name, see HostID) talk through memory-mapped
// single-producer single-consumer rings in /dev/shm; other pairs use TCP.
// TransportTCP forces TCP everywhere; TransportSHM insists on shared memory.
// Communicator.Transports says what was chosen. The package collectivetest
// runs N ranks inside one test process.
//
// # Operations
//
//	err := c.AllReduce(ctx, grads, collective.Mean) // in place, every rank
//	h := c.AllReduceAsync(ctx, bucket, collective.Sum)
//	... compute ...
//	err = h.Wait()
//
// All ranks must issue the same operations in the same order with buffers of
// the same length; asynchronous operations run in the order they were issued.
// Results are bit-identical on every rank: the ring computes each shard's
// final value on one rank and copies it to the others, and recursive
// doubling combines the same two operands on both partners. Ops are Sum, Mean
// and Max. AllReduceTensors fuses many small tensors into buckets.
//
// When every rank is on one host (all pairs on shared memory), Dial also
// maps one file shared by the whole group, with a staging area per rank, and
// AllReduce, Broadcast and Barrier go through it: for AllReduce, each rank
// stages its buffer, all meet at a barrier, each reduces its own shard by
// reading that shard from every staging area (in rank order), all meet
// again, and each copies the other shards' results out, in rounds of up to
// 1 Mi elements. Two barriers per round replace the ring's 2(n−1) dependent
// steps, and all ranks reduce at once, which counts most when ranks
// outnumber cores. Options.RingOnly turns this off; compressed AllReduce
// always takes the rings.
//
// The group also hands out shared buffers (Communicator.SharedBuffer):
// memory of the same length on every rank that every rank can reach. An
// AllReduce of a range of one needs no staging: each rank reduces its shard
// straight from every rank's buffer and writes the result into all of
// them, between the same two barriers. Keep a gradient arena there (the
// train package does) and an allreduce moves less than half the bytes.
//
// Algorithms on the links: buffers up to Options.SmallBytes go by recursive doubling
// (⌈log2 n⌉ exchanges, for latency); larger ones by a ring, reduce-scatter
// then allgather, cut into segments of Options.SegmentBytes and pipelined: a
// sending goroutine streams segments to the right neighbour while the caller's
// goroutine receives from the left, reduces, and queues the result onward. The
// schedules themselves (ringPlan, chainPlan, doublingPlan) are pure functions,
// tested by running all ranks in memory.
//
// # Failures never hang silently
//
// Every operation ends by its context's deadline or Options.Deadline,
// whichever comes first (DefaultDeadline if unset). When a peer dies, closes
// or stops sending, the operation returns a *PeerError naming the operation,
// this rank, the peer and what was awaited:
//
//	collective: allreduce: rank 2 waiting for rank 1 (recv chunk 2 of reduce-scatter step 2, elements [2883584,2949120)): collective: peer lost: peer closed connection
//
// A rank that fails sends an abort notice to every peer before shutting its
// connections, so ranks further along the ring report the rank at fault
// (PeerError.Peer) and the one that told them (PeerError.Via) within
// moments, rather than at their own deadline. A dead process is noticed by
// TCP through the kernel closing its sockets, and over shared memory by the
// waiting side checking that the peer's process still runs. Match errors
// with errors.Is against ErrPeerLost, ErrProtocol, context.DeadlineExceeded
// and context.Canceled. After any failure the Communicator is broken (the
// streams between ranks are out of step): later calls return ErrBroken.
//
// # Wire
//
// TCP carries frames of a 24-byte header (magic, kind, sequence, length) and
// a payload, written with one vectored write and read without allocating;
// float32 buffers go out as their own little-endian bytes. A malformed or
// oversized frame closes the connection with ErrProtocol. With
// Options.Compression set to FP16 or BF16, values are narrowed on the wire
// and reduced in float32.
package collective
