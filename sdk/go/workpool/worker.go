package workpool

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sort"
	"sync"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"

	pb "github.com/workpool/workpool/sdk/go/gen/workpool/v1"
)

// MaxCapacity is the largest capacity the server accepts in a hello.
const MaxCapacity = 10_000

// Defaults of the worker options.
const (
	DefaultCapacity          = 10
	DefaultShutdownGrace     = 30 * time.Second
	DefaultMaxReconnectDelay = 30 * time.Second
)

// closeTimeout is how long a stopping worker waits for the server to end
// the stream after the worker half-closed it, before it cancels the call.
const closeTimeout = 5 * time.Second

// fallbackHeartbeat is used when the welcome carries no heartbeat interval.
const fallbackHeartbeat = 10 * time.Second

// WorkerOption configures a Worker.
type WorkerOption func(*Worker)

// WithCapacity sets how many handlers run at once, across all pools (1 to
// MaxCapacity, default DefaultCapacity). It is also the server's initial
// credit.
func WithCapacity(n int) WorkerOption { return func(w *Worker) { w.capacity = n } }

// WithWorkerName sets the name the server shows in logs; the default is
// "HOSTNAME:PID".
func WithWorkerName(name string) WorkerOption { return func(w *Worker) { w.name = name } }

// WithShutdownGrace sets how long Run waits, after its context is done, for
// running handlers to report before it closes the stream.
func WithShutdownGrace(d time.Duration) WorkerOption { return func(w *Worker) { w.grace = d } }

// WithMaxReconnectDelay caps the backoff between reconnects.
func WithMaxReconnectDelay(d time.Duration) WorkerOption {
	return func(w *Worker) { w.maxReconnect = d }
}

// WithWorkerLogger sets the worker's logger; the default is slog.Default().
func WithWorkerLogger(logger *slog.Logger) WorkerOption {
	return func(w *Worker) { w.logger = logger }
}

// Worker runs handlers for the work items of its pools over one
// WorkerService.Work stream at a time, reconnecting with backoff when the
// stream fails. A Worker runs once: register handlers, call Run, and stop
// it by canceling Run's context or calling Shutdown.
type Worker struct {
	client       pb.WorkerServiceClient
	pools        []string
	capacity     int
	name         string
	grace        time.Duration
	maxReconnect time.Duration
	logger       *slog.Logger

	mu       sync.Mutex
	handlers map[string]HandlerFunc
	started  bool

	// slots bounds the handlers running at once, across sessions, since
	// handlers of a closed stream may still run when the next one opens.
	slots    chan struct{}
	queueMu  sync.Mutex
	queue    []*attempt
	queued   chan struct{}
	results  chan finishedAttempt
	stopping chan struct{}
	force    chan struct{}
	abort    chan struct{}
	done     chan struct{}

	stopOnce, forceOnce, abortOnce sync.Once
}

// NewWorker returns a worker that takes work from pools over conn, which the
// caller keeps and closes (see NewConn).
func NewWorker(conn grpc.ClientConnInterface, pools []string, opts ...WorkerOption) (*Worker, error) {
	w := &Worker{
		client:       pb.NewWorkerServiceClient(conn),
		pools:        append([]string(nil), pools...),
		capacity:     DefaultCapacity,
		grace:        DefaultShutdownGrace,
		maxReconnect: DefaultMaxReconnectDelay,
		logger:       slog.Default(),
		handlers:     map[string]HandlerFunc{},
		stopping:     make(chan struct{}),
		force:        make(chan struct{}),
		abort:        make(chan struct{}),
		done:         make(chan struct{}),
	}
	for _, opt := range opts {
		opt(w)
	}
	if len(w.pools) == 0 {
		return nil, errors.New("workpool: no pools given; list at least one pool to take work from")
	}
	for i, pool := range w.pools {
		if pool == "" {
			return nil, fmt.Errorf("workpool: pools[%d] is empty", i)
		}
	}
	if w.capacity < 1 || w.capacity > MaxCapacity {
		return nil, fmt.Errorf("workpool: capacity is %d; use 1 to %d handlers at once", w.capacity, MaxCapacity)
	}
	if w.name == "" {
		host, _ := os.Hostname()
		w.name = fmt.Sprintf("%s:%d", host, os.Getpid())
	}
	if w.grace < 0 {
		return nil, fmt.Errorf("workpool: shutdown grace is %v; use zero or more", w.grace)
	}
	w.slots = make(chan struct{}, w.capacity)
	w.results = make(chan finishedAttempt)
	w.queued = make(chan struct{}, 1)
	return w, nil
}

// Handle registers handler for work items calling function. Register every
// handler, follow-up functions included, before Run: the hello lists them.
// It panics when function is empty, already registered, or the worker runs.
func (w *Worker) Handle(function string, handler HandlerFunc) {
	w.mu.Lock()
	defer w.mu.Unlock()
	switch {
	case function == "":
		panic("workpool: Handle needs a function name such as \"email.send\"")
	case handler == nil:
		panic(fmt.Sprintf("workpool: nil handler for %q", function))
	case w.started:
		panic(fmt.Sprintf("workpool: cannot register %q after Run started", function))
	}
	if _, exists := w.handlers[function]; exists {
		panic(fmt.Sprintf("workpool: a handler for %q is already registered", function))
	}
	w.handlers[function] = handler
}

// HandleFollowUp registers an on-complete follow-up handler, which receives
// the finished item's id, the caller's context and its result. Args that do
// not decode fail the follow-up without a retry.
func (w *Worker) HandleFollowUp(function string, handler FollowUpFunc) {
	w.Handle(function, func(ctx context.Context, task *Task) (any, error) {
		followUp, err := task.FollowUp()
		if err != nil {
			return nil, NonRetryable(err)
		}
		return nil, handler(ctx, task, followUp)
	})
}

// Functions returns the registered function names in order.
func (w *Worker) Functions() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	names := make([]string, 0, len(w.handlers))
	for name := range w.handlers {
		names = append(names, name)
	}
	sort.Strings(names)
	return names
}

// Run serves work until ctx is done, then stops gracefully within the
// shutdown grace (see Shutdown), and returns nil. It returns a *Error at
// once when the server rejects the worker's hello (INVALID_ARGUMENT,
// UNAUTHENTICATED, PERMISSION_DENIED, UNIMPLEMENTED); it reconnects after
// any other stream failure.
func (w *Worker) Run(ctx context.Context) error {
	w.mu.Lock()
	if w.started {
		w.mu.Unlock()
		return errors.New("workpool: the worker already ran; create a new Worker")
	}
	if len(w.handlers) == 0 {
		w.mu.Unlock()
		return errors.New("workpool: no handler is registered; call worker.Handle before Run")
	}
	w.started = true
	w.mu.Unlock()
	defer close(w.done)
	go w.dispatch()

	go func() {
		select {
		case <-ctx.Done():
			w.beginStop()
			timer := time.NewTimer(w.grace)
			defer timer.Stop()
			select {
			case <-timer.C:
				w.forceStop()
			case <-w.done:
			}
		case <-w.done:
		}
	}()

	w.logger.Info("workpool: worker starting", "pools", w.pools, "functions", w.Functions(),
		"capacity", w.capacity, "worker_name", w.name)
	defer w.logger.Info("workpool: worker stopped", "worker_name", w.name)

	retry := newBackoff(500*time.Millisecond, w.maxReconnect)
	for {
		err := w.runSession(retry)
		if isFatal(err) {
			return err
		}
		if w.isStopping() {
			return nil
		}
		delay := retry.next()
		w.logger.Warn("workpool: worker stream failed; reconnecting", "error", err, "delay", delay)
		timer := time.NewTimer(delay)
		select {
		case <-timer.C:
		case <-w.stopping:
		case <-w.abort:
		}
		timer.Stop()
		if w.isStopping() {
			return nil
		}
	}
}

// Shutdown stops the worker gracefully: it grants the server no more
// credit, waits for running handlers to finish and for the server to
// acknowledge their results, then closes the stream. When ctx is done
// first, it closes the stream at once and returns ctx.Err(). The server then
// ends the attempts still running as "worker lost" and retries them per
// their policy. Shutdown returns after Run has returned, or at once when Run
// never started.
func (w *Worker) Shutdown(ctx context.Context) error {
	w.mu.Lock()
	started := w.started
	w.mu.Unlock()
	if !started {
		return nil
	}
	w.beginStop()
	select {
	case <-w.done:
		return nil
	case <-ctx.Done():
		w.forceStop()
		<-w.done
		return ctx.Err()
	}
}

// Abort closes the stream at once without reporting results, as a crash
// would, and makes Run return. The server ends the running attempts as
// "worker lost". It exists for tests of failure handling.
func (w *Worker) Abort() {
	w.abortOnce.Do(func() { close(w.abort) })
	w.beginStop()
}

// Done returns a channel closed when Run has returned.
func (w *Worker) Done() <-chan struct{} { return w.done }

func (w *Worker) beginStop() {
	w.stopOnce.Do(func() {
		w.logger.Info("workpool: worker stopping", "worker_name", w.name)
		close(w.stopping)
	})
}

func (w *Worker) forceStop() { w.forceOnce.Do(func() { close(w.force) }) }

func (w *Worker) isStopping() bool {
	select {
	case <-w.stopping:
		return true
	default:
		return false
	}
}

// isFatal reports whether a stream error means the worker's settings or
// credentials are wrong, so a reconnect would fail the same way. NOT_FOUND
// is not fatal because a worker may start before a client creates its pool.
func isFatal(err error) bool {
	var wpErr *Error
	if !errors.As(err, &wpErr) {
		return false
	}
	switch wpErr.Code {
	case codes.InvalidArgument, codes.Unauthenticated, codes.PermissionDenied, codes.Unimplemented:
		return true
	}
	return false
}

func (w *Worker) handler(function string) HandlerFunc {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.handlers[function]
}
