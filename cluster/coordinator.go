package cluster

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"
)

// signatureHeader carries hex(HMAC-SHA256(token, method + " " + path + "\n" + body)).
const signatureHeader = "Shoal-Signature"

// maxBody bounds a request or response body.
const maxBody = 1 << 20

func sign(token, method, path string, body []byte) string {
	mac := hmac.New(sha256.New, []byte(token))
	fmt.Fprintf(mac, "%s %s\n", method, path)
	mac.Write(body)
	return hex.EncodeToString(mac.Sum(nil))
}

// Coordinator serves a Rendezvous over HTTP/JSON.
type Coordinator struct {
	mu struct {
		sync.Mutex
		rv *Rendezvous
		// changed is closed and replaced whenever the membership changes.
		changed chan struct{}
	}
	token string
	now   func() time.Time
}

// NewCoordinator returns a coordinator for the job cfg describes.
func NewCoordinator(cfg Config) (*Coordinator, error) {
	rv, err := NewRendezvous(cfg)
	if err != nil {
		return nil, err
	}
	c := &Coordinator{token: cfg.Token, now: time.Now}
	c.mu.rv = rv
	c.mu.changed = make(chan struct{})
	return c, nil
}

// notifyLocked wakes every waiter on the membership; c.mu must be held.
func (c *Coordinator) notifyLocked() {
	close(c.mu.changed)
	c.mu.changed = make(chan struct{})
}

// Membership returns the current view.
func (c *Coordinator) Membership() Membership {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.mu.rv.Membership()
}

// Progress returns every worker's last progress report, by rank.
func (c *Coordinator) Progress() []Progress {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.mu.rv.Progress()
}

// Serve answers requests on ln and checks heartbeats until ctx ends.
func (c *Coordinator) Serve(ctx context.Context, ln net.Listener) error {
	srv := &http.Server{Handler: c.Handler(), ReadHeaderTimeout: 10 * time.Second}
	done := make(chan struct{})
	go func() {
		defer close(done)
		tick := time.NewTicker(500 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-ctx.Done():
				shut, cancel := context.WithTimeout(context.Background(), 2*time.Second)
				_ = srv.Shutdown(shut)
				cancel()
				return
			case <-tick.C:
				c.mu.Lock()
				if lost := c.mu.rv.Tick(c.now()); len(lost) > 0 {
					c.notifyLocked()
				}
				c.mu.Unlock()
			}
		}
	}()
	err := srv.Serve(ln)
	<-done
	if errors.Is(err, http.ErrServerClosed) {
		return nil
	}
	return err
}

// Handler returns the coordinator's HTTP API:
//
//	POST /v1/join        Member → Member (with rank)
//	POST /v1/heartbeat   {id, progress} → Membership
//	POST /v1/leave       {id}
//	GET  /v1/membership?after=E&wait=D   long-polls for an epoch > E (or completion)
//	GET  /v1/progress    → []Progress
func (c *Coordinator) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /v1/join", c.signed(c.join))
	mux.HandleFunc("POST /v1/heartbeat", c.signed(c.heartbeat))
	mux.HandleFunc("POST /v1/leave", c.signed(c.leave))
	mux.HandleFunc("GET /v1/membership", c.signed(c.membership))
	mux.HandleFunc("GET /v1/progress", c.signed(c.progress))
	return mux
}

type handlerFunc func(r *http.Request, body []byte) (any, error)

// signed checks the request's signature, runs h and writes its answer or
// error as JSON.
func (c *Coordinator) signed(h handlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(io.LimitReader(r.Body, maxBody))
		if err != nil {
			writeError(w, http.StatusBadRequest, err)
			return
		}
		want := sign(c.token, r.Method, r.URL.RequestURI(), body)
		if !hmac.Equal([]byte(want), []byte(r.Header.Get(signatureHeader))) {
			writeError(w, http.StatusUnauthorized, ErrUnauthorized)
			return
		}
		out, err := h(r, body)
		if err != nil {
			status := http.StatusBadRequest
			switch {
			case errors.Is(err, ErrMismatch):
				status = http.StatusConflict
			case errors.Is(err, ErrFull):
				status = http.StatusForbidden
			case errors.Is(err, ErrUnknown):
				status = http.StatusNotFound
			}
			writeError(w, status, err)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(out)
	}
}

func writeError(w http.ResponseWriter, status int, err error) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]string{"error": err.Error()})
}

func (c *Coordinator) join(_ *http.Request, body []byte) (any, error) {
	var m Member
	if err := json.Unmarshal(body, &m); err != nil {
		return nil, fmt.Errorf("cluster: malformed join: %w", err)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	before := c.mu.rv.Membership()
	got, err := c.mu.rv.Join(m, c.now())
	if err != nil {
		return nil, err
	}
	if after := c.mu.rv.Membership(); len(after.Workers)+len(after.Servers) != len(before.Workers)+len(before.Servers) {
		c.notifyLocked()
	}
	return got, nil
}

type heartbeatRequest struct {
	ID       string   `json:"id"`
	Progress Progress `json:"progress"`
}

func (c *Coordinator) heartbeat(_ *http.Request, body []byte) (any, error) {
	var hb heartbeatRequest
	if err := json.Unmarshal(body, &hb); err != nil {
		return nil, fmt.Errorf("cluster: malformed heartbeat: %w", err)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := c.mu.rv.Heartbeat(hb.ID, hb.Progress, c.now()); err != nil {
		return nil, err
	}
	return c.mu.rv.Membership(), nil
}

func (c *Coordinator) leave(_ *http.Request, body []byte) (any, error) {
	var hb heartbeatRequest
	if err := json.Unmarshal(body, &hb); err != nil {
		return nil, fmt.Errorf("cluster: malformed leave: %w", err)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.mu.rv.Leave(hb.ID)
	return struct{}{}, nil
}

// maxWait bounds one long poll.
const maxWait = 30 * time.Second

func (c *Coordinator) membership(r *http.Request, _ []byte) (any, error) {
	after, _ := strconv.ParseUint(r.URL.Query().Get("after"), 10, 64)
	wait, _ := time.ParseDuration(r.URL.Query().Get("wait"))
	wait = min(max(wait, 0), maxWait)
	timer := time.NewTimer(wait)
	defer timer.Stop()
	for {
		c.mu.Lock()
		m, changed := c.mu.rv.Membership(), c.mu.changed
		c.mu.Unlock()
		if m.Epoch > after {
			return m, nil
		}
		select {
		case <-changed:
		case <-timer.C:
			return m, nil
		case <-r.Context().Done():
			return nil, r.Context().Err()
		}
	}
}

func (c *Coordinator) progress(_ *http.Request, _ []byte) (any, error) {
	return c.Progress(), nil
}

// Client talks to a coordinator.
type Client struct {
	base, token string
	http        *http.Client
}

// NewClient returns a client for the coordinator at addr (host:port).
func NewClient(addr, token string) *Client {
	return &Client{base: "http://" + addr, token: token, http: &http.Client{Timeout: maxWait + 10*time.Second}}
}

// do sends a signed request and decodes the JSON answer into out. Errors
// the coordinator reports come back wrapping the matching sentinel.
func (c *Client) do(ctx context.Context, method, path string, in, out any) error {
	var body []byte
	if in != nil {
		var err error
		if body, err = json.Marshal(in); err != nil {
			return err
		}
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("cluster: %w", err)
	}
	req.Header.Set(signatureHeader, sign(c.token, method, path, body))
	resp, err := c.http.Do(req)
	if err != nil {
		return fmt.Errorf("%w at %s: %v; check --coordinator and that `shoal coordinator` is running", ErrUnreachable, c.base[len("http://"):], err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxBody))
	if err != nil {
		return fmt.Errorf("cluster: reading answer: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		var e struct{ Error string }
		_ = json.Unmarshal(data, &e)
		sentinel := map[int]error{
			http.StatusUnauthorized: ErrUnauthorized,
			http.StatusConflict:     ErrMismatch,
			http.StatusForbidden:    ErrFull,
			http.StatusNotFound:     ErrUnknown,
		}[resp.StatusCode]
		if sentinel == ErrUnauthorized {
			return fmt.Errorf("%w: the coordinator refused the token; pass the same --token (or SHOAL_TOKEN) as the coordinator", ErrUnauthorized)
		}
		if sentinel != nil {
			return &remoteError{msg: e.Error, sentinel: sentinel}
		}
		return fmt.Errorf("cluster: coordinator answered %s: %s", resp.Status, e.Error)
	}
	if out != nil {
		if err := json.Unmarshal(data, out); err != nil {
			return fmt.Errorf("cluster: malformed answer from coordinator: %w", err)
		}
	}
	return nil
}

// remoteError carries the coordinator's message and matches its sentinel.
type remoteError struct {
	msg      string
	sentinel error
}

func (e *remoteError) Error() string        { return e.msg }
func (e *remoteError) Is(target error) bool { return target == e.sentinel }

// Join registers m, retrying while the coordinator is not yet reachable
// until ctx ends, and returns m with its rank.
func (c *Client) Join(ctx context.Context, m Member) (Member, error) {
	backoff := 50 * time.Millisecond
	for {
		var got Member
		err := c.do(ctx, http.MethodPost, "/v1/join", m, &got)
		if err == nil {
			return got, nil
		}
		if !errors.Is(err, ErrUnreachable) {
			return Member{}, err
		}
		select {
		case <-ctx.Done():
			return Member{}, err
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, time.Second)
	}
}

// WaitComplete long-polls until the membership is complete and returns it.
func (c *Client) WaitComplete(ctx context.Context) (Membership, error) {
	for {
		var m Membership
		if err := c.do(ctx, http.MethodGet, "/v1/membership?after=0&wait=20s", nil, &m); err != nil {
			return Membership{}, err
		}
		if m.Complete {
			return m, nil
		}
		if err := ctx.Err(); err != nil {
			return Membership{}, fmt.Errorf("cluster: waiting for %d joined members: %w", len(m.Workers)+len(m.Servers), err)
		}
	}
}

// Heartbeat reports progress and returns the current membership.
func (c *Client) Heartbeat(ctx context.Context, id string, p Progress) (Membership, error) {
	var m Membership
	err := c.do(ctx, http.MethodPost, "/v1/heartbeat", heartbeatRequest{ID: id, Progress: p}, &m)
	return m, err
}

// Leave tells the coordinator that id finished cleanly.
func (c *Client) Leave(ctx context.Context, id string) error {
	return c.do(ctx, http.MethodPost, "/v1/leave", heartbeatRequest{ID: id}, nil)
}

// Progress returns every worker's last report.
func (c *Client) Progress(ctx context.Context) ([]Progress, error) {
	var p []Progress
	err := c.do(ctx, http.MethodGet, "/v1/progress", nil, &p)
	return p, err
}
