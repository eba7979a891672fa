package main

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/shoal-dl/shoal/cluster"
	"github.com/shoal-dl/shoal/collective"
)

// launchFlags extend shoal train: with --workers N it runs the job as N
// worker processes (and --ps S parameter servers) on this machine.
var launchFlags struct {
	workers, servers      int
	strategy, psMode      string
	bucketBytes, avgEvery int
	stepLog, timeline     string
	transport             string
	compression           string
	balance               bool
	lrScaling             string
	warmup                int
	slowRank              int
	slowFactor            float64
	slowUnprobed          bool
}

func init() {
	f := trainCmd.Flags()
	fl := &launchFlags
	f.IntVar(&fl.workers, "workers", 0, "run data-parallel on N worker processes on this machine (0 = one process)")
	f.IntVar(&fl.servers, "ps", 0, "parameter servers for --strategy ps (default 1 with that strategy)")
	f.StringVar(&fl.strategy, "strategy", "allreduce", "with --workers: allreduce, ps or average")
	f.StringVar(&fl.psMode, "ps-mode", "sync", "with --strategy ps: sync, async or ssp:K")
	f.IntVar(&fl.bucketBytes, "bucket-bytes", 0, "with --strategy allreduce: bucket size in bytes (0 = automatic)")
	f.IntVar(&fl.avgEvery, "average-every", 1, "with --strategy average: steps between parameter averagings")
	f.StringVar(&fl.stepLog, "step-log", "", "with --workers: per-step timings as JSON lines ({rank} is replaced; default DIR/steps-{rank}.jsonl)")
	f.StringVar(&fl.timeline, "timeline", "", "with --workers: write a Chrome-trace timeline of every rank to this file")
	f.StringVar(&fl.transport, "transport", "auto", "with --workers: data plane between workers: auto (shared memory on one host), tcp or shm")
	f.StringVar(&fl.compression, "compression", "none", "with --strategy allreduce or average: gradients (parameters) on the wire as none (float32), bf16 or fp16")
	f.BoolVar(&fl.balance, "balance", false, "with --strategy allreduce: split the global batch so that every worker's step takes as long, from step costs measured at the start and revised every 40 steps")
	f.StringVar(&fl.lrScaling, "lr-scaling", "none", "with --workers: none, or linear (learning rate × workers, Goyal et al.)")
	f.IntVar(&fl.warmup, "warmup", 0, "with --workers: ramp the learning rate up linearly over the first N steps")
	f.IntVar(&fl.slowRank, "debug-slow-rank", -1, "debug: slow the worker launched n-th down")
	f.Float64Var(&fl.slowFactor, "debug-slow", 2, "debug: the factor --debug-slow-rank slows by")
	f.BoolVar(&fl.slowUnprobed, "debug-slow-unprobed", false, "debug: hide --debug-slow from --balance's first measurement")
	_ = f.MarkHidden("debug-slow-rank")
	_ = f.MarkHidden("debug-slow")
	_ = f.MarkHidden("debug-slow-unprobed")
	local := trainCmd.RunE
	trainCmd.RunE = func(cmd *cobra.Command, args []string) error {
		if cmd.Flags().Changed("workers") {
			return runLaunch(cmd)
		}
		return local(cmd, args)
	}
}

// lostGrace is how long the launcher lets the other processes of a job
// report a failed member before it kills them. Survivors notice a dead peer
// within moments (a closed connection, a vanished process); the grace only
// bounds the ones stuck elsewhere.
const lostGrace = 3 * time.Second

// runLaunch starts a coordinator in this process and the worker and server
// processes, prefixes their log lines by rank and shows one progress line.
func runLaunch(cmd *cobra.Command) error {
	fl, tf := &launchFlags, &trainFlags
	switch {
	case fl.workers < 1:
		return usageErrorf("train: --workers %d must be at least 1", fl.workers)
	case fl.strategy != "allreduce" && fl.strategy != "ps" && fl.strategy != "average":
		return usageErrorf("train: unknown --strategy %q; use allreduce, ps or average", fl.strategy)
	case fl.balance && fl.strategy != "allreduce":
		return usageErrorf("train: --balance works with --strategy allreduce only")
	case fl.lrScaling != "none" && fl.lrScaling != "linear":
		return usageErrorf("train: unknown --lr-scaling %q; use none or linear", fl.lrScaling)
	case fl.servers < 0:
		return usageErrorf("train: --ps must not be negative")
	case tf.spec == "" || tf.data == "" || tf.out == "":
		return usageErrorf("train: --spec, --data and --out are required")
	}
	if _, err := collective.ParseCompression(fl.compression); err != nil {
		return usageErrorf("train: --compression: %v", err)
	}
	servers := fl.servers
	if fl.strategy == "ps" && servers == 0 {
		servers = 1
	}
	if fl.strategy != "ps" {
		servers = 0
	}
	// The coordinator hashes the spec with the same overrides the members get.
	job := jobFlags{spec: tf.spec, epochs: tf.epochs, batch: tf.batch, lr: tf.lr, seed: tf.seed}
	spec, err := job.loadSpec(cmd)
	if err != nil {
		return err
	}
	secret := make([]byte, 16)
	_, _ = rand.Read(secret)
	token := hex.EncodeToString(secret)
	ctx, cancel := context.WithCancel(cmd.Context())
	defer cancel()
	co, ln, served, err := startCoordinator(ctx, "127.0.0.1:0", cluster.Config{Workers: fl.workers, Servers: servers,
		Token: token, Version: version(), SpecHash: spec.Hash()})
	if err != nil {
		return err
	}
	if err := os.MkdirAll(tf.out, 0o755); err != nil {
		return usageErrorf("train: cannot create the output directory: %v; choose another --out", oneLine(err))
	}
	exe, err := os.Executable()
	if err != nil {
		return fmt.Errorf("train: cannot find the shoal binary: %w", err)
	}
	common := []string{"--coordinator", ln.Addr().String(), "--spec", tf.spec,
		"--lr-scaling", fl.lrScaling, "--warmup", fmt.Sprint(fl.warmup)}
	fs := cmd.Flags()
	for _, name := range []string{"data", "test", "data-dir", "label", "epochs", "batch", "lr", "seed", "limit"} {
		if fs.Changed(name) {
			common = append(common, "--"+name, fs.Lookup(name).Value.String())
		}
	}
	threads := 1
	if fs.Changed("threads") {
		threads = tf.threads
	}
	common = append(common, "--threads", fmt.Sprint(threads))
	if !fs.Changed("data") {
		common = append(common, "--data", tf.data)
	}
	stepLog := fl.stepLog
	if stepLog == "" {
		stepLog = tf.out + string(os.PathSeparator) + "steps-{rank}.jsonl"
	}
	var timelineParts string
	if fl.timeline != "" {
		timelineParts = tf.out + string(os.PathSeparator) + "timeline-{rank}.json"
	}

	type proc struct {
		id        string
		cmd       *exec.Cmd
		out, errs *io.PipeWriter // closed once Wait has copied the last output
	}
	var procs []proc
	for i := range servers {
		args := append([]string{"ps", "--id", fmt.Sprintf("ps%d", i), "--mode", fl.psMode}, common...)
		procs = append(procs, proc{id: fmt.Sprintf("ps%d", i), cmd: exec.CommandContext(ctx, exe, args...)})
	}
	for i := range fl.workers {
		id := fmt.Sprintf("w%d", i)
		args := append([]string{"worker", "--id", id, "--strategy", fl.strategy, "--out", tf.out,
			"--bucket-bytes", fmt.Sprint(fl.bucketBytes), "--average-every", fmt.Sprint(fl.avgEvery),
			"--step-log", stepLog, "--transport", fl.transport, "--compression", fl.compression}, common...)
		if timelineParts != "" {
			args = append(args, "--timeline", timelineParts)
		}
		if tf.jsonOut {
			args = append(args, "--json")
		}
		if fl.balance {
			args = append(args, "--balance")
		}
		if trainFlags.cpuProfile != "" {
			args = append(args, "--cpuprofile", trainFlags.cpuProfile+".{rank}")
		}
		if i == fl.slowRank {
			args = append(args, "--debug-slow", fmt.Sprint(fl.slowFactor))
			if fl.slowUnprobed {
				args = append(args, "--debug-slow-unprobed")
			}
		}
		procs = append(procs, proc{id: id, cmd: exec.CommandContext(ctx, exe, args...)})
	}

	// Log lines carry the member's rank from the moment it has joined.
	var labels sync.Map // id → "rank r" / "ps r"
	label := func(id string) string {
		if l, ok := labels.Load(id); ok {
			return l.(string)
		}
		m := co.Membership()
		for _, w := range append(m.Workers, m.Lost...) {
			if w.ID == id && w.Role == cluster.Worker {
				l, _ := labels.LoadOrStore(id, fmt.Sprintf("rank %d", w.Rank))
				return l.(string)
			}
		}
		for _, s := range m.Servers {
			if s.ID == id {
				l, _ := labels.LoadOrStore(id, fmt.Sprintf("ps %d", s.Rank))
				return l.(string)
			}
		}
		return id
	}
	stderr, stdout := cmd.ErrOrStderr(), cmd.OutOrStdout()
	var outMu sync.Mutex // guards writes to stderr and stdout
	bar := newProgressBar(stderr)
	var pipes sync.WaitGroup
	copyLines := func(id string, r io.Reader, toStdout bool) {
		defer pipes.Done()
		sc := bufio.NewScanner(r)
		for sc.Scan() {
			outMu.Lock()
			if toStdout {
				fmt.Fprintln(stdout, sc.Text())
			} else {
				if bar.terminal {
					fmt.Fprint(stderr, "\r\x1b[K")
				}
				fmt.Fprintf(stderr, "[%s] %s\n", label(id), strings.TrimPrefix(sc.Text(), "shoal: "))
			}
			outMu.Unlock()
		}
		// A line too long for the scanner ends it; the rest must still be
		// read, or the process's Wait would block on the full pipe.
		_, _ = io.Copy(io.Discard, r)
	}
	for i := range procs {
		p := &procs[i]
		p.cmd.Env = append(os.Environ(), "SHOAL_TOKEN="+token)
		// Pipes of our own rather than StdoutPipe: Wait closes those, and so
		// would lose the last lines of a process that fails fast, which are
		// the ones that say why. Wait waits until everything is copied here.
		so, outW := io.Pipe()
		se, errW := io.Pipe()
		p.cmd.Stdout, p.cmd.Stderr, p.out, p.errs = outW, errW, outW, errW
		if err := p.cmd.Start(); err != nil {
			return fmt.Errorf("train: starting %s: %w", p.id, err)
		}
		pipes.Add(2)
		go copyLines(p.id, so, true)
		go copyLines(p.id, se, false)
	}

	// Progress: one combined line from the workers' heartbeats.
	progressDone := make(chan struct{})
	go func() {
		defer close(progressDone)
		tick := time.NewTicker(500 * time.Millisecond)
		defer tick.Stop()
		start, lastPrint, named := time.Now(), time.Now(), false
		for {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
			m := co.Membership()
			if m.Complete && !named {
				for _, w := range m.Workers {
					labels.Store(w.ID, fmt.Sprintf("rank %d", w.Rank))
				}
				for _, s := range m.Servers {
					labels.Store(s.ID, fmt.Sprintf("ps %d", s.Rank))
				}
				named = true
			}
			ps := co.Progress()
			var samples int64
			var loss float64
			var step, steps int64
			epoch := 0
			for _, p := range ps {
				samples += p.Samples
				loss += p.Loss / float64(len(ps))
				step, steps, epoch = p.Step, p.Steps, p.Epoch
			}
			if epoch == 0 || (!bar.terminal && time.Since(lastPrint) < 10*time.Second) {
				continue
			}
			lastPrint = time.Now()
			line := fmt.Sprintf("epoch %d/%d  step %d/%d  loss %.4f  %d workers  %s", epoch, spec.Epochs, step, steps, loss, len(ps), time.Since(start).Round(time.Second))
			outMu.Lock()
			if bar.terminal {
				fmt.Fprintf(stderr, "\r%s\x1b[K", line)
			} else {
				fmt.Fprintln(stderr, line)
			}
			outMu.Unlock()
		}
	}()

	// Wait for every process. The first failure stops the others: they get
	// lostGrace to notice the loss themselves and say which rank they were
	// waiting for, then they are killed.
	errs := make(chan error, len(procs))
	for _, p := range procs {
		go func() {
			err := p.cmd.Wait()
			_ = p.out.Close()
			_ = p.errs.Close()
			if err != nil {
				err = fmt.Errorf("%s exited: %w", label(p.id), err)
			}
			errs <- err
		}()
	}
	// The error reported is the first process killed by a signal the
	// launcher did not send (the peers that noticed its death may exit
	// before its own Wait returns), else the first failure.
	var first, killed error
	var grace <-chan time.Time
	stopped := false
	for left := len(procs); left > 0; {
		select {
		case err := <-errs:
			left--
			if err == nil {
				break
			}
			if first == nil {
				first = err
				grace = time.After(lostGrace)
			}
			var exit *exec.ExitError
			if killed == nil && !stopped && errors.As(err, &exit) && exit.ProcessState != nil {
				if ws, ok := exit.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
					killed = err
				}
			}
		case <-grace:
			grace, stopped = nil, true
			cancel() // CommandContext kills the processes this launcher started
		}
	}
	if killed != nil {
		first = killed
	}
	pipes.Wait()
	cancel()
	<-progressDone
	if err := <-served; err != nil && first == nil {
		first = err
	}
	if bar.terminal {
		fmt.Fprintln(stderr)
	}
	if first != nil {
		var exit *exec.ExitError
		if errors.As(first, &exit) && exit.ExitCode() == exitUsage {
			return usageErrorf("train: %v (see the lines above)", first)
		}
		return fmt.Errorf("train: %w (see the lines above)", first)
	}
	if timelineParts != "" {
		return mergeTimelines(fl.timeline, timelineParts, fl.workers)
	}
	return nil
}

// mergeTimelines joins the per-rank Chrome traces into one file.
func mergeTimelines(path, parts string, workers int) error {
	var all []json.RawMessage
	for r := range workers {
		name := strings.ReplaceAll(parts, "{rank}", fmt.Sprint(r))
		b, err := os.ReadFile(name)
		if err != nil {
			return fmt.Errorf("train: timeline of rank %d: %w", r, err)
		}
		var t struct {
			TraceEvents []json.RawMessage `json:"traceEvents"`
		}
		if err := json.Unmarshal(b, &t); err != nil {
			return fmt.Errorf("train: timeline of rank %d: %w", r, err)
		}
		all = append(all, t.TraceEvents...)
		_ = os.Remove(name)
	}
	b, err := json.Marshal(map[string]any{"traceEvents": all, "displayTimeUnit": "ms"})
	if err != nil {
		return err
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		return usageErrorf("train: --timeline: %v", oneLine(err))
	}
	return nil
}
