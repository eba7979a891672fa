package main

import (
	"context"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/shoal-dl/shoal/cluster"
	"github.com/shoal-dl/shoal/collective"
	"github.com/shoal-dl/shoal/nn"
	"github.com/shoal-dl/shoal/optim"
	"github.com/shoal-dl/shoal/ps"
	"github.com/shoal-dl/shoal/train"
)

var psFlags struct {
	job          jobFlags
	id, listen   string
	mode         string
	waitTimeout  time.Duration
	exitWhenDone bool
	lrScaling    string
	warmup       int
}

var psCmd = &cobra.Command{
	Use:   "ps --coordinator ADDR --spec SPEC --mode sync|async|ssp:K",
	Short: "Join a distributed training job as a parameter server",
	Long: `ps joins the job a coordinator runs as a parameter server: it owns a contiguous range
of the model's parameters (balanced by size among the servers), runs the spec's
optimizer on it and answers the workers' pulls and pushes.

Consistency (--mode): sync aggregates every worker's gradient of a step before
the update; async applies each push on arrival; ssp:K lets no worker run more
than K steps ahead of the slowest. It exits when every worker has left.`,
	Args: cobra.NoArgs,
	RunE: runPS,
}

func init() {
	fl := &psFlags
	fl.job.register(psCmd, true)
	f := psCmd.Flags()
	f.StringVar(&fl.id, "id", "", "this server's name in the job (default: host and process id)")
	f.StringVar(&fl.listen, "listen", "127.0.0.1:0", "address the workers reach this server on")
	f.StringVar(&fl.mode, "mode", "sync", "consistency: sync, async or ssp:K")
	f.DurationVar(&fl.waitTimeout, "wait-timeout", 60*time.Second, "longest wait for a slow worker before failing its request")
	f.StringVar(&fl.lrScaling, "lr-scaling", "none", "sync mode: none, or linear (learning rate × workers, Goyal et al.)")
	f.IntVar(&fl.warmup, "warmup", 0, "ramp the learning rate up linearly over the first N updates")
	rootCmd.AddCommand(psCmd)
}

func runPS(cmd *cobra.Command, _ []string) error {
	fl := &psFlags
	if fl.job.coordinator == "" {
		return usageErrorf("ps: --coordinator is required: the address of shoal coordinator")
	}
	token, err := fl.job.tokenOrEnv()
	if err != nil {
		return err
	}
	mode, err := ps.ParseMode(fl.mode)
	if err != nil {
		return usageErrorf("ps: --mode: %v", oneLine(err))
	}
	if fl.lrScaling != "none" && fl.lrScaling != "linear" {
		return usageErrorf("ps: unknown --lr-scaling %q; use none or linear", fl.lrScaling)
	}
	if fl.warmup < 0 {
		return usageErrorf("ps: --warmup must be >= 0")
	}
	threads := setThreads(fl.job.threads)
	spec, err := fl.job.loadSpec(cmd)
	if err != nil {
		return err
	}
	model, err := spec.Build()
	if err != nil {
		return specUsageError(err)
	}
	ln, err := listenData("ps", fl.listen)
	if err != nil {
		return err
	}
	defer ln.Close()
	ctx, cancel := context.WithCancel(cmd.Context())
	defer cancel()
	id := fl.id
	if id == "" {
		id = fmt.Sprintf("ps-%s", ln.Addr())
	}
	client := cluster.NewClient(fl.job.coordinator, token)
	jctx, jcancel := context.WithTimeout(ctx, fl.job.joinTimeout)
	defer jcancel()
	me, err := client.Join(jctx, cluster.Member{ID: id, Role: cluster.Server, Addr: ln.Addr().String(),
		Host: collective.HostID(), Version: version(), SpecHash: spec.Hash()})
	if err != nil {
		return joinError("ps", err)
	}
	mem, err := client.WaitComplete(jctx)
	if err != nil {
		return joinError("ps", err)
	}
	rng := ps.Partition(model.NumParams(), len(mem.Servers))[me.Rank]
	// The server's optimizer covers its range only; the spec's schedule
	// (scaled and warmed up as asked) runs on the server's update count.
	o := spec.Optimizer
	if o == nil {
		o = &nn.OptimizerSpec{Name: "sgd"}
	}
	cfg := optim.Config{LR: o.LR, Momentum: o.Momentum, Nesterov: o.Nesterov, Rho: o.Rho,
		Beta1: o.Beta1, Beta2: o.Beta2, Eps: o.Eps, WeightDecay: o.WeightDecay, Threads: threads}
	if o.WeightDecay > 0 {
		cfg.DecayMask = model.DecayMask()[rng.Lo:rng.Hi]
	}
	opt, err := optim.New(o.Name, rng.Len(), cfg)
	if err != nil {
		return usageErrorf("ps: optimizer: %v", oneLine(err))
	}
	base, start := opt.LR(), 0.0
	if fl.lrScaling == "linear" && mode.Consistency == ps.Sync {
		// One update per global step of all workers' batches.
		base, start = optim.LinearScaling(base, len(mem.Workers)), 1/float64(len(mem.Workers))
	}
	var schedule optim.Schedule
	if spec.Schedule != nil {
		if schedule, err = optim.ParseSchedule(spec.Schedule.String(), base); err != nil {
			return usageErrorf("spec: schedule: %v", oneLine(err))
		}
	} else if base != opt.LR() || fl.warmup > 0 {
		schedule = optim.Constant(base)
	}
	if schedule != nil {
		opt = train.Scheduled(opt, train.WarmedUp(schedule, int64(fl.warmup), start))
	}
	srv, err := ps.NewServer(ps.ServerConfig{Rank: me.Rank, Servers: len(mem.Servers), Workers: len(mem.Workers),
		Total: model.NumParams(), Mode: mode, WaitTimeout: fl.waitTimeout}, opt)
	if err != nil {
		return err
	}
	fmt.Fprintf(cmd.ErrOrStderr(), "ps %d of %d: %s, parameters [%d, %d), %d workers\n", me.Rank, len(mem.Servers), mode, rng.Lo, rng.Hi, len(mem.Workers))
	// Watch the membership: stop once every worker has left or one is lost.
	go func() {
		defer cancel()
		tick := time.NewTicker(time.Second)
		defer tick.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
			m, err := client.Heartbeat(ctx, id, cluster.Progress{})
			if err != nil || len(m.Lost) > 0 {
				return
			}
			progress, err := client.Progress(ctx)
			if err != nil {
				return
			}
			done := 0
			for _, p := range progress {
				if p.Done {
					done++
				}
			}
			if done >= len(m.Workers) {
				return
			}
		}
	}()
	err = srv.Serve(ctx, ln)
	_ = client.Leave(context.WithoutCancel(ctx), id)
	return err
}
