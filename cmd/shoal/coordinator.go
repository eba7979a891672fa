package main

import (
	"context"
	"fmt"
	"net"
	"time"

	"github.com/spf13/cobra"

	"github.com/shoal-dl/shoal/cluster"
)

var coordinatorFlags struct {
	job              jobFlags
	listen           string
	workers, servers int
	heartbeat        time.Duration
}

var coordinatorCmd = &cobra.Command{
	Use:   "coordinator --workers N --spec SPEC --token TOKEN",
	Short: "Run the rendezvous of a distributed training job",
	Long: `coordinator admits N workers (and S parameter servers with --ps S) to one job: it
checks their shared token, shoal version and model spec hash, assigns ranks,
publishes the membership and watches heartbeats. It runs until interrupted.`,
	Example: `  SHOAL_TOKEN=s3cret shoal coordinator --listen :7070 --workers 2 --spec examples/mlp.yaml`,
	Args:    cobra.NoArgs,
	RunE:    runCoordinator,
}

func init() {
	fl := &coordinatorFlags
	f := coordinatorCmd.Flags()
	f.StringVar(&fl.listen, "listen", "127.0.0.1:7070", "address to serve the job on")
	f.IntVar(&fl.workers, "workers", 1, "number of workers in the job")
	f.IntVar(&fl.servers, "ps", 0, "number of parameter servers in the job")
	f.DurationVar(&fl.heartbeat, "heartbeat-timeout", 10*time.Second, "declare a member lost after this long without a heartbeat")
	f.StringVar(&fl.job.token, "token", "", "the job's shared token (default: $SHOAL_TOKEN)")
	f.StringVar(&fl.job.spec, "spec", "", "model spec file, YAML or JSON (required)")
	f.IntVar(&fl.job.epochs, "epochs", 0, "the epochs the workers are given, if they override the spec's")
	f.IntVar(&fl.job.batch, "batch", 0, "the batch the workers are given, if they override the spec's")
	f.Float64Var(&fl.job.lr, "lr", 0, "the learning rate the workers are given, if they override the spec's")
	f.Uint64Var(&fl.job.seed, "seed", 0, "the seed the workers are given, if they override the spec's")
	rootCmd.AddCommand(coordinatorCmd)
}

// startCoordinator listens on addr and serves a coordinator for cfg until
// ctx ends; done receives Serve's result.
func startCoordinator(ctx context.Context, addr string, cfg cluster.Config) (*cluster.Coordinator, net.Listener, <-chan error, error) {
	co, err := cluster.NewCoordinator(cfg)
	if err != nil {
		return nil, nil, nil, usageErrorf("coordinator: %v", oneLine(err))
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, nil, nil, usageErrorf("coordinator: cannot listen on %s: %v; choose a free port with --listen", addr, oneLine(err))
	}
	done := make(chan error, 1)
	go func() { done <- co.Serve(ctx, ln) }()
	return co, ln, done, nil
}

func runCoordinator(cmd *cobra.Command, _ []string) error {
	fl := &coordinatorFlags
	token, err := fl.job.tokenOrEnv()
	if err != nil {
		return err
	}
	if fl.workers < 1 || fl.servers < 0 {
		return usageErrorf("coordinator: --workers must be >= 1 and --ps >= 0")
	}
	spec, err := fl.job.loadSpec(cmd)
	if err != nil {
		return err
	}
	cfg := cluster.Config{Workers: fl.workers, Servers: fl.servers, Token: token, Version: version(),
		SpecHash: spec.Hash(), HeartbeatTimeout: fl.heartbeat}
	_, ln, done, err := startCoordinator(cmd.Context(), fl.listen, cfg)
	if err != nil {
		return err
	}
	fmt.Fprintf(cmd.ErrOrStderr(), "coordinator on %s: waiting for %d workers and %d parameter servers\n", ln.Addr(), fl.workers, fl.servers)
	return <-done
}
