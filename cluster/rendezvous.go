package cluster

import (
	"errors"
	"fmt"
	"time"
)

// Role is what a member does in the job.
type Role string

const (
	// Worker computes gradients on its shard of the data.
	Worker Role = "worker"
	// Server holds a range of the parameters (parameter-server strategy).
	Server Role = "ps"
)

// Errors a join can fail with; Client returns them wrapped, so they can be
// matched with errors.Is.
var (
	ErrUnauthorized = errors.New("cluster: request not signed with the job's token")
	ErrMismatch     = errors.New("cluster: member does not match the job")
	ErrFull         = errors.New("cluster: job is full")
	ErrUnknown      = errors.New("cluster: unknown member")
	ErrUnreachable  = errors.New("cluster: coordinator unreachable")
	ErrMemberLost   = errors.New("cluster: member lost")
)

// Member describes one process of the job.
type Member struct {
	ID   string `json:"id"`
	Role Role   `json:"role"`
	// Addr is the member's data-plane address (host:port).
	Addr string `json:"addr"`
	// Host identifies the machine; members on the same host may use
	// shared memory.
	Host string `json:"host"`
	// Speed is the member's measured throughput in samples per second
	// (0 when unknown); the balancer splits batches by it.
	Speed    float64 `json:"speed,omitempty"`
	Version  string  `json:"version"`
	SpecHash string  `json:"spec_hash"`
	// Rank is assigned by the coordinator: 0..Workers−1 for workers,
	// 0..Servers−1 for servers.
	Rank int `json:"rank"`
}

// Progress is what a member last reported about its training.
type Progress struct {
	Epoch   int     `json:"epoch"`
	Step    int64   `json:"step"`
	Steps   int64   `json:"steps"`
	Samples int64   `json:"samples"`
	Loss    float64 `json:"loss"`
	Done    bool    `json:"done,omitempty"`
}

// Membership is the coordinator's published view of the job.
type Membership struct {
	// Epoch is 0 while members are still joining and increases with every
	// change after the job is complete.
	Epoch    uint64   `json:"epoch"`
	Complete bool     `json:"complete"`
	Workers  []Member `json:"workers"`
	Servers  []Member `json:"servers"`
	// Lost lists members whose heartbeats stopped.
	Lost []Member `json:"lost,omitempty"`
}

// Config describes the job the coordinator admits members to.
type Config struct {
	Workers, Servers int
	// Token is the shared secret every request is signed with.
	Token string
	// Version and SpecHash must match each member's.
	Version, SpecHash string
	// HeartbeatTimeout declares a silent member lost; 0 means 10 s.
	HeartbeatTimeout time.Duration
}

// Validate reports a configuration that cannot describe a job.
func (c *Config) Validate() error {
	switch {
	case c.Workers < 1:
		return fmt.Errorf("cluster: workers must be at least 1, got %d", c.Workers)
	case c.Servers < 0:
		return fmt.Errorf("cluster: servers must not be negative, got %d", c.Servers)
	case c.Token == "":
		return errors.New("cluster: empty token; pass --token or set SHOAL_TOKEN")
	}
	return nil
}

type memberState struct {
	Member
	lastSeen time.Time
	progress Progress
}

// Rendezvous is the coordinator's state machine. It does no I/O and is not
// safe for concurrent use; Coordinator serialises calls.
type Rendezvous struct {
	cfg     Config
	byID    map[string]*memberState
	workers []*memberState
	servers []*memberState
	lost    []Member
	epoch   uint64
}

// NewRendezvous returns the state machine for cfg.
func NewRendezvous(cfg Config) (*Rendezvous, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.HeartbeatTimeout == 0 {
		cfg.HeartbeatTimeout = 10 * time.Second
	}
	return &Rendezvous{cfg: cfg, byID: map[string]*memberState{}}, nil
}

// Join admits m and returns it with its rank. Joining again with the same
// ID (a retried request) returns the same rank.
func (r *Rendezvous) Join(m Member, now time.Time) (Member, error) {
	if m.ID == "" {
		return Member{}, fmt.Errorf("%w: empty member id", ErrMismatch)
	}
	if m.Version != r.cfg.Version {
		return Member{}, fmt.Errorf("%w: shoal version %q, coordinator runs %q; run the same shoal binary everywhere", ErrMismatch, m.Version, r.cfg.Version)
	}
	if m.SpecHash != r.cfg.SpecHash {
		return Member{}, fmt.Errorf("%w: model spec hash %.12s, coordinator has %.12s; start every process with the same --spec", ErrMismatch, m.SpecHash, r.cfg.SpecHash)
	}
	if s, ok := r.byID[m.ID]; ok {
		s.lastSeen = now
		return s.Member, nil
	}
	list, limit := &r.workers, r.cfg.Workers
	if m.Role == Server {
		list, limit = &r.servers, r.cfg.Servers
	} else if m.Role != Worker {
		return Member{}, fmt.Errorf("%w: unknown role %q", ErrMismatch, m.Role)
	}
	if len(*list) >= limit {
		return Member{}, fmt.Errorf("%w: all %d %s slots are taken; start the coordinator with more, or stop the extra process", ErrFull, limit, m.Role)
	}
	m.Rank = len(*list)
	s := &memberState{Member: m, lastSeen: now}
	*list = append(*list, s)
	r.byID[m.ID] = s
	if r.complete() && r.epoch == 0 {
		r.epoch = 1
	}
	return m, nil
}

func (r *Rendezvous) complete() bool {
	return len(r.workers) == r.cfg.Workers && len(r.servers) == r.cfg.Servers
}

// Heartbeat records that member id is alive and how far it got.
func (r *Rendezvous) Heartbeat(id string, p Progress, now time.Time) error {
	s, ok := r.byID[id]
	if !ok {
		return fmt.Errorf("%w: %q has not joined (or was declared lost)", ErrUnknown, id)
	}
	s.lastSeen = now
	s.progress = p
	return nil
}

// Leave removes a member that finished cleanly, so its silence is not
// taken for a failure.
func (r *Rendezvous) Leave(id string) {
	if s, ok := r.byID[id]; ok {
		s.progress.Done = true
		s.lastSeen = time.Time{}
	}
}

// Tick declares lost every member silent for longer than the timeout and
// returns them; the epoch increases when any is.
func (r *Rendezvous) Tick(now time.Time) []Member {
	var lost []Member
	for _, list := range [][]*memberState{r.workers, r.servers} {
		for _, s := range list {
			if s.progress.Done || s.lastSeen.IsZero() {
				continue
			}
			if now.Sub(s.lastSeen) > r.cfg.HeartbeatTimeout {
				lost = append(lost, s.Member)
				s.lastSeen = time.Time{}
				delete(r.byID, s.ID)
			}
		}
	}
	if len(lost) > 0 {
		r.lost = append(r.lost, lost...)
		r.epoch++
	}
	return lost
}

// Membership returns the current view.
func (r *Rendezvous) Membership() Membership {
	m := Membership{Epoch: r.epoch, Complete: r.complete(), Lost: append([]Member(nil), r.lost...)}
	for _, s := range r.workers {
		m.Workers = append(m.Workers, s.Member)
	}
	for _, s := range r.servers {
		m.Servers = append(m.Servers, s.Member)
	}
	return m
}

// Progress returns every worker's last report, by rank.
func (r *Rendezvous) Progress() []Progress {
	out := make([]Progress, len(r.workers))
	for i, s := range r.workers {
		out[i] = s.progress
	}
	return out
}
