// Package ps implements parameter servers: S servers each own a contiguous
// range of a model's parameter arena (balanced by size), run the optimizer
// on it, and answer workers' pulls (parameters) and pushes (gradients).
//
// Consistency modes:
//
//   - sync (BSP): the update for step t waits for every worker's gradient of
//     step t; they are summed in rank order and averaged, so the result is
//     deterministic and equals one large-batch step. A pull for step t waits
//     for t updates.
//   - async (ASP): every push is applied when it arrives, scaled by 1/W so
//     that W pushes weigh as much as one synchronous step; pulls never wait.
//   - ssp:K (bounded staleness): pushes apply as in async, but a worker's
//     pull for step t waits until the slowest worker has pushed step t−K−1,
//     so no worker runs more than K steps ahead.
//
// The consistency clock (type shard) does no I/O; Server runs it behind a
// small framed TCP protocol and Client is the worker's side. Every wait has
// a deadline and its error names the worker being waited for.
package ps
