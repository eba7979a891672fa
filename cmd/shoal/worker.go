package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/spf13/cobra"

	"github.com/shoal-dl/shoal/cluster"
	"github.com/shoal-dl/shoal/collective"
	"github.com/shoal-dl/shoal/data"
	"github.com/shoal-dl/shoal/nn"
	"github.com/shoal-dl/shoal/optim"
	"github.com/shoal-dl/shoal/ps"
	"github.com/shoal-dl/shoal/train"
)

// jobFlags are the flags every member of a distributed job shares: what to
// train and how, which must agree across members (the spec hash checks it).
type jobFlags struct {
	coordinator, token, spec, data, test, dataDir, label string
	epochs, batch, threads, limit                        int
	lr                                                   float64
	seed                                                 uint64
	joinTimeout                                          time.Duration
}

func (j *jobFlags) register(cmd *cobra.Command, withCoordinator bool) {
	f := cmd.Flags()
	if withCoordinator {
		f.StringVar(&j.coordinator, "coordinator", "", "address (host:port) of `shoal coordinator` (required)")
		f.StringVar(&j.token, "token", "", "the job's shared token (default: $SHOAL_TOKEN)")
		f.DurationVar(&j.joinTimeout, "join-timeout", 60*time.Second, "how long to wait for the coordinator and the other members")
	}
	f.StringVar(&j.spec, "spec", "", "model spec file, YAML or JSON (required)")
	f.StringVar(&j.data, "data", "", "training data: fashion-mnist, mnist, csv:FILE, idx:IMAGES,LABELS")
	f.StringVar(&j.test, "test", "", "test data for csv: and idx: sources")
	f.StringVar(&j.dataDir, "data-dir", "", "where named datasets are")
	f.StringVar(&j.label, "label", "-1", "csv: the label column")
	f.IntVar(&j.epochs, "epochs", 0, "passes over the training data (default: the spec's)")
	f.IntVar(&j.batch, "batch", 0, "examples per step on each worker (default: the spec's)")
	f.Float64Var(&j.lr, "lr", 0, "learning rate (default: the spec's)")
	f.Uint64Var(&j.seed, "seed", 0, "seed (default: the spec's)")
	f.IntVar(&j.threads, "threads", 1, "kernel threads per process")
	f.IntVar(&j.limit, "limit", 0, "train on the first N examples only (0 = all)")
}

// loadSpec reads the spec and applies the overrides given on the command
// line, so that every member hashes the spec it will run.
func (j *jobFlags) loadSpec(cmd *cobra.Command) (*nn.Spec, error) {
	if j.spec == "" {
		return nil, usageErrorf("%s: --spec is required; for example --spec examples/mlp.yaml", cmd.Name())
	}
	spec, err := nn.LoadSpec(j.spec)
	if err != nil {
		return nil, specUsageError(err)
	}
	over := specOverrides{epochs: j.epochs, batch: j.batch, lr: j.lr, seed: j.seed}
	over.apply(cmd.Flags(), spec)
	return spec, nil
}

func (j *jobFlags) tokenOrEnv() (string, error) {
	if j.token == "" {
		j.token = os.Getenv("SHOAL_TOKEN")
	}
	if j.token == "" {
		return "", usageErrorf("no token: pass --token or set SHOAL_TOKEN to the job's shared token")
	}
	return j.token, nil
}

// joinError turns a join failure into a one-line usage error.
func joinError(what string, err error) error {
	switch {
	case errors.Is(err, cluster.ErrUnreachable):
		return usageErrorf("%s: %v", what, oneLine(err))
	case errors.Is(err, cluster.ErrUnauthorized), errors.Is(err, cluster.ErrMismatch), errors.Is(err, cluster.ErrFull):
		return usageErrorf("%s: %v", what, oneLine(err))
	case errors.Is(err, context.DeadlineExceeded):
		return usageErrorf("%s: the job did not complete in time (%v); start the missing members or raise --join-timeout", what, oneLine(err))
	}
	return err
}

// listenData opens the data-plane listener.
func listenData(what, addr string) (net.Listener, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, usageErrorf("%s: cannot listen on %s: %v; choose a free port with --listen (port 0 picks one)", what, addr, oneLine(err))
	}
	return ln, nil
}

var workerFlags struct {
	job                    jobFlags
	id, listen, strategy   string
	out, stepLog, timeline string
	transport              string
	compression            string
	cpuProfile             string
	bucketBytes            int
	averageEvery           int
	slow                   float64
	slowUnprobed           bool
	jsonOut                bool
	balance                bool
	lrScaling              string
	warmup                 int
}

var workerCmd = &cobra.Command{
	Use:   "worker --coordinator ADDR --spec SPEC --data DATA",
	Short: "Join a distributed training job as a worker",
	Long: `worker joins the job that a coordinator runs, gets its rank, trains on its shard of
the data with the chosen strategy and, as rank 0, writes the trained model to --out.

Strategies:
  allreduce   gradients averaged by bucketed ring allreduce overlapped with backward
  ps          parameters pulled from and gradients pushed to parameter servers
              (start them with shoal ps; their --mode picks sync, async or ssp:K)
  average     local steps, parameters averaged every --average-every steps

Every member must be given the same spec and overrides; the coordinator refuses
a worker whose spec or shoal version differs.`,
	Example: `  shoal coordinator --listen :7070 --workers 2 --spec examples/mlp.yaml --token s3cret
  shoal worker --coordinator host:7070 --token s3cret --spec examples/mlp.yaml --data fashion-mnist --out runs/mlp`,
	Args: cobra.NoArgs,
	RunE: runWorker,
}

func init() {
	fl := &workerFlags
	fl.job.register(workerCmd, true)
	f := workerCmd.Flags()
	f.StringVar(&fl.id, "id", "", "this worker's name in the job (default: host and process id)")
	f.StringVar(&fl.listen, "listen", "127.0.0.1:0", "data-plane address for the other workers")
	f.StringVar(&fl.strategy, "strategy", "allreduce", "allreduce, ps or average")
	f.StringVar(&fl.out, "out", "", "output directory rank 0 writes the model and results to")
	f.StringVar(&fl.stepLog, "step-log", "", "write per-step timings as JSON lines to this file ({rank} is replaced)")
	f.StringVar(&fl.timeline, "timeline", "", "write a Chrome-trace timeline to this file ({rank} is replaced)")
	f.StringVar(&fl.transport, "transport", "auto", "data plane between workers: auto (shared memory between workers on one host, else TCP), tcp or shm (one host)")
	f.StringVar(&fl.compression, "compression", "none", "allreduce, average: values on the wire between workers as none (float32), bf16 or fp16; sums stay float32")
	f.IntVar(&fl.bucketBytes, "bucket-bytes", 0, "allreduce bucket size in bytes (0 = automatic)")
	f.IntVar(&fl.averageEvery, "average-every", 1, "average: steps between two parameter averagings")
	f.Float64Var(&fl.slow, "debug-slow", 0, "debug: stretch every step by this factor (2 = twice as slow)")
	f.BoolVar(&fl.slowUnprobed, "debug-slow-unprobed", false, "debug: hide --debug-slow from --balance's first measurement, as if the worker slowed down after it")
	f.BoolVar(&fl.jsonOut, "json", false, "rank 0 prints one JSON object with the results on stdout")
	f.BoolVar(&fl.balance, "balance", false, "allreduce: split the global batch so that every worker's step takes as long, from step costs measured at the start and revised every 40 steps")
	f.StringVar(&fl.lrScaling, "lr-scaling", "none", "none, or linear: learning rate × workers for the larger global batch (Goyal et al.)")
	f.IntVar(&fl.warmup, "warmup", 0, "ramp the learning rate up linearly over the first N steps (from the one-worker rate with --lr-scaling linear)")
	f.StringVar(&fl.cpuProfile, "cpuprofile", "", "write a CPU profile of this worker to this file ({rank} is replaced)")
	_ = f.MarkHidden("debug-slow")
	_ = f.MarkHidden("debug-slow-unprobed")
	_ = f.MarkHidden("cpuprofile")
	rootCmd.AddCommand(workerCmd)
}

// distResult is what a distributed run's rank 0 prints and saves.
type distResult struct {
	trainResult
	Strategy    string  `json:"strategy"`
	Workers     int     `json:"workers"`
	GlobalBatch int     `json:"global_batch"`
	Overlap     float64 `json:"overlap"`
	ComputeS    float64 `json:"compute_s_per_step"`
	CommS       float64 `json:"comm_s_per_step"`
	WaitS       float64 `json:"wait_s_per_step"`
	BucketBytes int     `json:"bucket_bytes,omitempty"`
	Balance     bool    `json:"balance,omitempty"`
	// RankBatches are the per-rank batch sizes of the last epoch (--balance).
	RankBatches []int `json:"rank_batches,omitempty"`
}

// timingSum accumulates step timings for the result.
type timingSum struct {
	n                         int
	compute, comm, wait, over float64
}

func (s *timingSum) add(t train.StepTiming) {
	s.n++
	s.compute += t.Compute
	s.comm += t.Comm
	s.wait += t.Wait
	s.over += t.Overlap
}

func runWorker(cmd *cobra.Command, _ []string) error {
	fl := &workerFlags
	start := time.Now()
	if fl.job.coordinator == "" {
		return usageErrorf("worker: --coordinator is required: the address of shoal coordinator")
	}
	token, err := fl.job.tokenOrEnv()
	if err != nil {
		return err
	}
	switch fl.strategy {
	case "allreduce", "ps", "average":
	default:
		return usageErrorf("worker: unknown --strategy %q; use allreduce, ps or average", fl.strategy)
	}
	if fl.averageEvery < 1 || fl.bucketBytes < 0 || fl.slow < 0 || fl.warmup < 0 {
		return usageErrorf("worker: --average-every must be >= 1, --bucket-bytes, --warmup and --debug-slow >= 0")
	}
	if fl.lrScaling != "none" && fl.lrScaling != "linear" {
		return usageErrorf("worker: unknown --lr-scaling %q; use none or linear", fl.lrScaling)
	}
	if fl.balance && fl.strategy != "allreduce" {
		return usageErrorf("worker: --balance works with --strategy allreduce only")
	}
	if fl.job.data == "" {
		return usageErrorf("worker: --data is required; for example --data fashion-mnist")
	}
	compression, err := collective.ParseCompression(fl.compression)
	if err != nil {
		return usageErrorf("worker: --compression: %v", err)
	}
	threads := setThreads(fl.job.threads)
	// One more scheduler thread than kernel threads, until the members on
	// this host are known (see schedulerThreads).
	runtime.GOMAXPROCS(threads + 1)
	spec, err := fl.job.loadSpec(cmd)
	if err != nil {
		return err
	}
	src, err := parseDataSource(fl.job.data)
	if err != nil {
		return err
	}
	sets, err := loadTrainData(src, fl.job.test, fl.job.dataDir, fl.job.label, spec)
	if err != nil {
		return err
	}
	if sets.vocab != nil {
		return usageErrorf("worker: text data is not supported by distributed training yet; train it with shoal train")
	}
	if fl.job.limit > 0 {
		sets.train = limitDataset(sets.train, fl.job.limit)
	}
	model, err := spec.Build()
	if err != nil {
		return specUsageError(err)
	}
	if err := checkDataFits(sets.train, model); err != nil {
		return err
	}
	trainDS, err := fitInput(sets.train, model.InputShape)
	if err != nil {
		return err
	}
	opt, schedule, err := newOptimizer(spec, model, threads)
	if err != nil {
		return err
	}
	loss, err := spec.LossFunc()
	if err != nil {
		return specUsageError(err)
	}

	ln, err := listenData("worker", fl.listen)
	if err != nil {
		return err
	}
	defer ln.Close()
	ctx, cancel := context.WithCancelCause(cmd.Context())
	defer cancel(nil)
	id := fl.id
	if id == "" {
		host, _ := os.Hostname()
		id = fmt.Sprintf("%s-%d", host, os.Getpid())
	}
	var speed float64
	var cost train.StepCost // this worker's computation per step, for --balance
	// measureCost trains a scratch copy briefly: the first epoch's split
	// needs every worker's costs before any step of the run is timed.
	measureCost := func() error {
		c, err := train.MeasureStepCost(ctx, spec.Build, loss, trainDS, spec.Batch, 600*time.Millisecond)
		if err != nil {
			return fmt.Errorf("worker: %w", err)
		}
		slow := max(fl.slow, 1)
		if fl.slowUnprobed {
			slow = 1
		}
		cost = train.StepCost{Fixed: slow * c.Fixed, PerExample: slow * c.PerExample}
		return nil
	}
	if fl.balance {
		// For the registration; the split measures again once every worker
		// has joined, when none is still loading its data.
		if err := measureCost(); err != nil {
			return err
		}
		speed = cost.Speed(spec.Batch)
	}
	client := cluster.NewClient(fl.job.coordinator, token)
	jctx, jcancel := context.WithTimeout(ctx, fl.job.joinTimeout)
	defer jcancel()
	me, err := client.Join(jctx, cluster.Member{ID: id, Role: cluster.Worker, Addr: ln.Addr().String(),
		Host: collective.HostID(), Version: version(), SpecHash: spec.Hash(), Speed: speed})
	if err != nil {
		return joinError("worker", err)
	}
	mem, err := client.WaitComplete(jctx)
	if err != nil {
		return joinError("worker", err)
	}
	defer func() { _ = client.Leave(context.WithoutCancel(ctx), id) }()
	local := localMembers(mem) // workers and servers on this host
	runtime.GOMAXPROCS(schedulerThreads(threads, local))
	workers := append([]cluster.Member(nil), mem.Workers...)
	sort.Slice(workers, func(a, b int) bool { return workers[a].Rank < workers[b].Rank })
	addrs := make([]string, len(workers))
	for i, w := range workers {
		addrs[i] = w.Addr
	}
	world, rank := len(workers), me.Rank
	if fl.lrScaling == "linear" || fl.warmup > 0 {
		base, start := opt.LR(), 0.0
		if fl.lrScaling == "linear" {
			base, start = optim.LinearScaling(opt.LR(), world), 1/float64(world)
		}
		opt.SetLR(base)
		schedule = optim.Constant(base)
		if spec.Schedule != nil {
			if schedule, err = optim.ParseSchedule(spec.Schedule.String(), base); err != nil {
				return usageErrorf("spec: schedule: %v", oneLine(err))
			}
		}
		schedule = train.WarmedUp(schedule, int64(fl.warmup), start)
	}
	stderr := cmd.ErrOrStderr()
	fmt.Fprintf(stderr, "rank %d of %d: %s, %d parameters, batch %d per worker\n", rank, world, fl.strategy, model.NumParams(), spec.Batch)
	if fl.cpuProfile != "" {
		pf, err := os.Create(strings.ReplaceAll(fl.cpuProfile, "{rank}", fmt.Sprint(rank)))
		if err != nil {
			return usageErrorf("worker: --cpuprofile: %v", oneLine(err))
		}
		defer pf.Close()
		if err := pprof.StartCPUProfile(pf); err != nil {
			return fmt.Errorf("worker: cpu profile: %w", err)
		}
		defer pprof.StopCPUProfile()
	}

	// Heartbeats carry progress and bring news of lost members.
	var prog struct {
		sync.Mutex
		p cluster.Progress
	}
	var hb sync.WaitGroup
	hb.Add(1)
	go func() {
		defer hb.Done()
		tick := time.NewTicker(time.Second)
		defer tick.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
			prog.Lock()
			p := prog.p
			prog.Unlock()
			m, err := client.Heartbeat(ctx, id, p)
			if err == nil && len(m.Lost) > 0 {
				cancel(fmt.Errorf("worker: %s (rank %d) was lost; restart the job", m.Lost[0].ID, m.Lost[0].Rank))
				return
			}
		}
	}()
	defer hb.Wait()
	defer cancel(nil)

	var timeline *train.Timeline
	if fl.timeline != "" {
		timeline = train.NewTimeline(start, 0)
	}
	var stepLog *train.StepTimingLog
	if fl.stepLog != "" {
		f, err := os.Create(strings.ReplaceAll(fl.stepLog, "{rank}", fmt.Sprint(rank)))
		if err != nil {
			return usageErrorf("worker: --step-log: %v", oneLine(err))
		}
		defer f.Close()
		stepLog = train.NewStepTimingLog(f)
		defer stepLog.Flush() // on every return, before the file closes
	}
	var sum timingSum
	// rebalance, with --balance, revises the split after each step.
	var rebalance func(compute float64) error
	onStep := func(t train.StepTiming) {
		slow := max(fl.slow, 1)
		if slow > 1 {
			time.Sleep(time.Duration((slow - 1) * t.Compute * float64(time.Second)))
		}
		if t.Step > 0 { // the first step includes warm-up
			sum.add(t)
		}
		if stepLog != nil {
			stepLog.Add(t)
		}
		if rebalance != nil {
			if err := rebalance(slow * t.Compute); err != nil {
				cancel(err)
			}
		}
	}

	var strategy train.Strategy
	var final func(context.Context) error
	var balancer *train.AllReduce
	var comm *collective.Communicator
	bucketBytes := 0
	switch fl.strategy {
	case "allreduce", "average":
		opts := collective.Options{Compression: compression}
		if local*threads > runtime.NumCPU() {
			// A rank waiting for the others must not hold a core their
			// kernel threads need.
			opts.GroupPoll = -1
		}
		comm, err = collective.Dial(ctx, collective.Config{Rank: rank, Addrs: addrs, Listener: ln, Transport: fl.transport,
			Options: opts})
		if err != nil {
			return fmt.Errorf("worker: rank %d: connecting to the other workers: %w", rank, err)
		}
		defer comm.Close()
		if fl.strategy == "allreduce" {
			oneBucket := false
			if fl.bucketBytes == 0 {
				if oneBucket, err = noSpareCores(ctx, comm, local, threads); err != nil {
					return fmt.Errorf("worker: rank %d: %w", rank, err)
				}
			}
			a, err := train.NewAllReduce(ctx, comm, model, train.AllReduceOptions{BucketBytes: fl.bucketBytes, OneBucket: oneBucket, OnStep: onStep, Timeline: timeline})
			if err != nil {
				return err
			}
			defer a.Close() // before comm.Close
			strategy, bucketBytes = a, a.BucketBytes()
			if fl.balance {
				balancer = a
			}
		} else {
			a, err := train.NewAverage(ctx, comm, model, train.AverageOptions{Every: fl.averageEvery, OnStep: onStep, Timeline: timeline})
			if err != nil {
				return err
			}
			strategy, final = a, a.Sync
		}
	case "ps":
		if len(mem.Servers) == 0 {
			return usageErrorf("worker: --strategy ps needs parameter servers; start the coordinator with --ps S and run shoal ps")
		}
		servers := append([]cluster.Member(nil), mem.Servers...)
		sort.Slice(servers, func(a, b int) bool { return servers[a].Rank < servers[b].Rank })
		saddrs := make([]string, len(servers))
		for i, s := range servers {
			saddrs[i] = s.Addr
		}
		pc, err := ps.Dial(ctx, saddrs, rank, model.NumParams(), 0)
		if err != nil {
			return fmt.Errorf("worker: %w", err)
		}
		defer pc.Close()
		s, err := train.NewPS(ctx, pc, model, train.PSOptions{Rank: rank, OnStep: onStep, Timeline: timeline})
		if err != nil {
			return err
		}
		strategy, final = s, s.Final
	}

	global := world * spec.Batch
	var sizes []int // per-rank batch sizes with --balance
	// balance splits the global batch by every worker's cost, c for this
	// one. Given the split in force, it keeps it unless the new one makes
	// steps at least minResplitGain shorter: noise in the timings then
	// moves nothing.
	balance := func(c train.StepCost, current []int) (split []int, costs string, err error) {
		fs, ps, err := train.ExchangeStepCosts(ctx, comm, c.Fixed, c.PerExample)
		if err != nil {
			return nil, "", err
		}
		if split, err = train.BalanceBatchesByCost(global, fs, ps); err != nil {
			return nil, "", usageErrorf("worker: --balance: %v; use a larger --batch", err)
		}
		if current != nil && train.SplitTime(split, fs, ps) > (1-minResplitGain)*train.SplitTime(current, fs, ps) {
			split = current
		}
		parts := make([]string, world)
		for r := range parts {
			parts[r] = train.StepCost{Fixed: fs[r], PerExample: ps[r]}.String()
		}
		return split, strings.Join(parts, ", "), nil
	}
	if balancer != nil {
		// All workers measure at once, once every one has loaded its data,
		// so that none measures while another still loads.
		if err := comm.Barrier(ctx); err != nil {
			return fmt.Errorf("worker: rank %d: --balance: %w", rank, err)
		}
		if err := measureCost(); err != nil {
			return err
		}
		var costs string
		if sizes, costs, err = balance(cost, nil); err != nil {
			return err
		}
		fmt.Fprintf(stderr, "balance: batch sizes %v for step costs %s\n", sizes, costs)
	}
	// With --balance, next is a split decided during an epoch, in force
	// from its batch nextFrom on (or from the next epoch, at -1).
	var next []int
	nextFrom := -1
	const prefetch = 2
	newLoader := func(epoch int) (*data.Loader, error) {
		o := data.LoaderOptions{BatchSize: spec.Batch, Shuffle: true, Seed: spec.Seed,
			Rank: rank, World: world, Prefetch: prefetch, DropLast: true}
		if sizes != nil {
			if next != nil {
				sizes, next = next, nil
			}
			// Each epoch is its own Fit, so its shuffle comes from the seed.
			o.RankBatchSizes, o.Seed = sizes, spec.Seed+uint64(epoch)*0x9e3779b97f4a7c15
			balancer.SetWeight(float64(sizes[rank]) / float64(global))
		}
		loader, err := data.NewLoader(trainDS, o)
		if err != nil {
			return nil, usageErrorf("worker: %v", err)
		}
		if loader.NumBatches() == 0 {
			return nil, usageErrorf("worker: rank %d's shard of %d examples does not fill one batch of %d; use a smaller --batch", rank, trainDS.Len(), loader.BatchSize())
		}
		return loader, nil
	}
	loader, err := newLoader(0)
	if err != nil {
		return err
	}
	if balancer != nil {
		// The probe before the first epoch can be wrong: the machine may
		// change, or its cores differ in speed. Every resplitSteps steps
		// the workers therefore refit their cost per example to the steps
		// just run and split the global batch again, from a batch the
		// loader has not prepared yet. Every rank counts the same steps,
		// so all make the same collective calls at the same step and
		// switch at the same batch.
		inEpoch, segSteps, segBusy := 0, 0, 0.0
		rebalance = func(compute float64) error {
			k := inEpoch // the step just run, in this epoch
			inEpoch++
			if inEpoch == loader.NumBatches() {
				inEpoch = 0
			}
			if next != nil && inEpoch == nextFrom {
				// The next step takes batches of the new sizes.
				sizes, next, nextFrom = next, nil, -1
				balancer.SetWeight(float64(sizes[rank]) / float64(global))
				segSteps, segBusy = 0, 0
				return nil
			}
			if k == 0 {
				return nil // an epoch's first step warms up
			}
			segSteps++
			segBusy += compute
			if next != nil || segSteps < resplitSteps {
				return nil
			}
			cost = cost.Refit(sizes[rank], segBusy/float64(segSteps))
			segSteps, segBusy = 0, 0
			split, costs, err := balance(cost, sizes)
			if err != nil {
				return err
			}
			if slices.Equal(split, sizes) {
				return nil
			}
			from := k + prefetch + 1
			if from >= loader.NumBatches() || inEpoch == 0 {
				from = -1 // the next epoch's loader takes it
			} else if err := loader.Resplit(split, from); err != nil {
				return fmt.Errorf("worker: --balance: %w", err)
			}
			next, nextFrom = split, from
			if rank == 0 {
				fmt.Fprintf(stderr, "balance: batch sizes %v from step %d, for step costs %s\n", split, from, costs)
			}
			return nil
		}
	}
	epochBase, epochs := 0, spec.Epochs
	tr, err := train.New(model, train.Options{
		Optimizer: opt, Schedule: schedule, Loss: loss, ClipNorm: spec.ClipNorm, Seed: spec.Seed + uint64(rank),
		Strategy: strategy, ProgressEvery: max(1, loader.NumBatches()/20),
		Progress: func(p train.Progress) {
			p.Epoch += epochBase
			p.Epochs = epochs
			prog.Lock()
			prog.p = cluster.Progress{Epoch: p.Epoch, Step: int64(p.Batch), Steps: int64(p.Batches),
				Samples: int64(p.Examples), Loss: p.Loss, Done: p.EpochDone && p.Epoch == p.Epochs}
			prog.Unlock()
			if p.EpochDone {
				fmt.Fprintf(stderr, "epoch %d/%d: loss %.4f, accuracy %.2f%%, %.0f samples/s on this worker\n",
					p.Epoch, p.Epochs, p.Loss, 100*p.Accuracy, p.SamplesPerSec)
			}
		},
	})
	if err != nil {
		return err
	}
	fitErr := func(err error) error {
		if c := context.Cause(ctx); c != nil && !errors.Is(c, context.Canceled) {
			return c
		}
		return err
	}
	var res *train.Result
	if balancer == nil {
		if res, err = tr.Fit(ctx, loader, nil, spec.Epochs); err != nil {
			return fitErr(err)
		}
	} else {
		// One Fit per epoch, each with a loader of its own: a split decided
		// too late in an epoch starts with the next one.
		res = &train.Result{}
		for e := range epochs {
			if e > 0 {
				if loader, err = newLoader(e); err != nil {
					return err
				}
			}
			epochBase = e
			r, err := tr.Fit(ctx, loader, nil, 1)
			if err != nil {
				return fitErr(err)
			}
			res.Epochs = append(res.Epochs, r.Epochs...)
			res.Examples += r.Examples
			res.TrainSeconds += r.TrainSeconds
			res.Steps = r.Steps
		}
		if res.TrainSeconds > 0 {
			res.SamplesPerSec = float64(res.Examples) / res.TrainSeconds
		}
	}
	if final != nil {
		if err := final(ctx); err != nil {
			return err
		}
	}
	if timeline != nil {
		if err := writeTimeline(strings.ReplaceAll(fl.timeline, "{rank}", fmt.Sprint(rank)), timeline); err != nil {
			return err
		}
	}
	if stepLog != nil {
		if err := stepLog.Flush(); err != nil {
			return fmt.Errorf("worker: step log: %w", err)
		}
	}
	if rank != 0 {
		return nil
	}
	out := distResult{Strategy: fl.strategy, Workers: world, GlobalBatch: global, BucketBytes: bucketBytes, Balance: fl.balance, RankBatches: sizes}
	if sum.n > 0 {
		n := float64(sum.n)
		out.ComputeS, out.CommS, out.WaitS, out.Overlap = sum.compute/n, sum.comm/n, sum.wait/n, sum.over/n
	}
	last := res.Epochs[len(res.Epochs)-1]
	// Every step consumes one global batch on all workers together.
	jobSpeed := 0.0
	if res.TrainSeconds > 0 {
		jobSpeed = float64(res.Steps) * float64(global) / res.TrainSeconds
	}
	out.trainResult = trainResult{Model: specName(spec, fl.job.spec), Data: fl.job.data,
		TrainLoss: last.Loss, TrainAccuracy: last.Accuracy, SamplesPerSec: jobSpeed,
		Epochs: len(res.Epochs), Steps: res.Steps, Batch: spec.Batch, Threads: threads, Params: model.NumParams(),
		TrainSeconds: res.TrainSeconds, Out: fl.out, History: res.Epochs}
	if sets.test != nil {
		testDS, err := fitInput(sets.test, model.InputShape)
		if err != nil {
			return err
		}
		tl, err := data.NewLoader(testDS, data.LoaderOptions{BatchSize: max(spec.Batch, 256), Prefetch: 2})
		if err != nil {
			return usageErrorf("worker: test data: %v", err)
		}
		m, err := tr.Evaluate(ctx, tl)
		if err != nil {
			return err
		}
		out.TestAccuracy, out.TestLoss, out.TestExamples, out.HasTestResults = m.Accuracy, m.Loss, m.Examples, true
		fmt.Fprintf(stderr, "test: loss %.4f, accuracy %.2f%% on %d examples\n", m.Loss, 100*m.Accuracy, m.Examples)
	}
	out.Seconds = time.Since(start).Seconds()
	if fl.out != "" {
		if err := os.MkdirAll(fl.out, 0o755); err != nil {
			return usageErrorf("worker: cannot create the output directory: %v; choose another --out", oneLine(err))
		}
		if err := nn.SaveFile(filepath.Join(fl.out, nn.WeightsFile), spec, model); err != nil {
			return err
		}
		sj, err := spec.Marshal()
		if err != nil {
			return err
		}
		if err := train.WriteFileAtomic(filepath.Join(fl.out, specFile), sj); err != nil {
			return err
		}
		rj, _ := json.MarshalIndent(out, "", "  ")
		if err := train.WriteFileAtomic(filepath.Join(fl.out, resultFile), append(rj, '\n')); err != nil {
			return err
		}
	}
	if fl.jsonOut {
		out.History = nil
		b, _ := json.Marshal(out)
		fmt.Fprintln(cmd.OutOrStdout(), string(b))
		return nil
	}
	fmt.Fprintf(cmd.OutOrStdout(), "%s: %s on %d workers: test accuracy %.2f%%, %.0f samples/s, overlap %.0f%%, %d epochs in %.1fs\n",
		out.Model, fl.strategy, world, 100*out.TestAccuracy, out.SamplesPerSec, 100*out.Overlap, out.Epochs, out.Seconds)
	return nil
}

// writeTimeline writes tl to path atomically.
func writeTimeline(path string, tl *train.Timeline) error {
	var b strings.Builder
	if _, err := tl.WriteTo(&b); err != nil {
		return err
	}
	if err := train.WriteFileAtomic(path, []byte(b.String())); err != nil {
		return usageErrorf("--timeline: %v", oneLine(err))
	}
	return nil
}

// With --balance, resplitSteps is how many steps of its current split a
// worker times before the workers split the global batch again, and
// minResplitGain the fraction of a step a new split must save.
const (
	resplitSteps   = 40
	minResplitGain = 0.01
)

// schedulerThreads returns the GOMAXPROCS of a worker with threads kernel
// threads on a host running local workers and servers of the job. Where this host has a core to spare beyond
// the kernel threads of its workers and servers, one more than threads:
// the collective's and the parameter-server client's goroutines then run
// beside backward instead of waiting for it to yield, which is what lets
// communication overlap computation. Where it has none, exactly threads:
// an extra scheduler thread finds no core of its own, and the loader's and
// the communication goroutines it runs take the core of another worker
// (MLP, 2 workers × 1 thread on 2 cores: 159k samples/s with one more,
// 186k without, over shared memory; 109k and 150k over TCP).
func schedulerThreads(threads, local int) int {
	if local*threads >= runtime.NumCPU() {
		return threads
	}
	return threads + 1
}

// localMembers counts the workers and servers of mem on this host.
func localMembers(mem cluster.Membership) int {
	host, local := collective.HostID(), 0
	for _, m := range slices.Concat(mem.Workers, mem.Servers) {
		if m.Host == host {
			local++
		}
	}
	return local
}

// noSpareCores reports whether any worker's host runs as many kernel
// threads of this job's members as it has cores (here: local members of
// threads each), agreed by all ranks (a max over them). There,
// communication cannot progress beside backward, and the allreduce
// strategy is cheaper in one operation after backward than in buckets
// during it (train.AllReduceOptions.OneBucket).
func noSpareCores(ctx context.Context, comm *collective.Communicator, local, threads int) (bool, error) {
	flag := []float32{0}
	if local*threads >= runtime.NumCPU() {
		flag[0] = 1
	}
	if err := comm.AllReduce(ctx, flag, collective.Max); err != nil {
		return false, fmt.Errorf("agreeing on the bucket plan: %w", err)
	}
	return flag[0] > 0, nil
}
