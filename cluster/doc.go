// Package cluster runs rendezvous for a shoal job: workers and parameter
// servers register with a coordinator, which checks that they belong to the
// job, assigns ranks, publishes the membership and watches heartbeats.
//
// The protocol core (type Rendezvous) does no I/O: it is driven by join and
// heartbeat messages and by a clock passed in, so tests step it
// deterministically. Coordinator serves it over HTTP/JSON; Client is the
// other end. Every request is signed with HMAC-SHA256 under the job's shared
// token, and a member whose shoal version or model spec hash differs from
// the coordinator's is refused with an error naming the mismatch.
//
// A membership has an epoch. It becomes complete (epoch 1) when the
// configured number of workers and servers have joined; a member whose
// heartbeats stop for longer than the timeout is declared lost, the epoch
// increases and the lost member is listed by rank, so that every other
// member can stop with an error that names it rather than hang.
package cluster
