package workpool

import "time"

// EnqueueOption sets an optional field of an enqueued item.
type EnqueueOption func(*enqueueSettings)

type retryMode int

const (
	retryPoolDefault retryMode = iota
	retryEnabled
	retryDisabled
	retryCustom
)

type enqueueSettings struct {
	retry          retryMode
	policy         RetryPolicy
	onComplete     string
	context        any
	hasRunAt       bool
	runAt          time.Time
	hasRunAfter    bool
	runAfter       time.Duration
	idempotencyKey string
	concurrencyKey string
	priority       int
	attemptTimeout time.Duration
}

// WithRetry applies the pool's retry policy even when the pool does not
// retry by default.
func WithRetry() EnqueueOption {
	return func(s *enqueueSettings) { s.retry = retryEnabled }
}

// WithoutRetry runs the item once whatever the pool's default.
func WithoutRetry() EnqueueOption {
	return func(s *enqueueSettings) { s.retry = retryDisabled }
}

// WithRetryPolicy gives the item a retry policy of its own.
func WithRetryPolicy(policy RetryPolicy) EnqueueOption {
	return func(s *enqueueSettings) {
		s.retry = retryCustom
		s.policy = policy
	}
}

// WithOnComplete runs function, in the same pool, once the item finishes,
// with the args {work_id, context, result}; context is passed through as is.
func WithOnComplete(function string, context any) EnqueueOption {
	return func(s *enqueueSettings) {
		s.onComplete = function
		s.context = context
	}
}

// WithRunAt sets the earliest start time; a time in the past runs now.
func WithRunAt(t time.Time) EnqueueOption {
	return func(s *enqueueSettings) {
		s.hasRunAt = true
		s.runAt = t
	}
}

// WithRunAfter delays the start by d from the moment the server accepts the
// item.
func WithRunAfter(d time.Duration) EnqueueOption {
	return func(s *enqueueSettings) {
		s.hasRunAfter = true
		s.runAfter = d
	}
}

// WithIdempotencyKey sets a key unique within the pool: a repeated enqueue
// with the same key returns the first item's id and creates nothing.
func WithIdempotencyKey(key string) EnqueueOption {
	return func(s *enqueueSettings) { s.idempotencyKey = key }
}

// WithConcurrencyKey limits the items of the pool with the same key to the
// pool's max-per-key setting (WithMaxPerKey) at once. Keys have 1 to 256
// characters.
func WithConcurrencyKey(key string) EnqueueOption {
	return func(s *enqueueSettings) { s.concurrencyKey = key }
}

// WithPriority sets the item's priority, from -1,000,000 to 1,000,000
// (default 0). Higher starts first within the pool, and waiting raises it
// by one per the pool's priority aging (WithPriorityAging).
func WithPriority(priority int) EnqueueOption {
	return func(s *enqueueSettings) { s.priority = priority }
}

// WithAttemptTimeout sets the maximum run time of one attempt. Past it the
// server cancels the handler's context with ErrAttemptTimedOut and ends the
// attempt as a failure, which the retry policy may retry. Without it the
// pool's default attempt timeout applies.
func WithAttemptTimeout(d time.Duration) EnqueueOption {
	return func(s *enqueueSettings) { s.attemptTimeout = d }
}

func collectEnqueue(opts []EnqueueOption, name string) (*enqueueSettings, error) {
	s := &enqueueSettings{}
	for _, opt := range opts {
		if opt != nil {
			opt(s)
		}
	}
	if s.hasRunAt && s.hasRunAfter {
		return nil, invalidArgument(name+".run_at", "WithRunAt and WithRunAfter exclude each other; pass one")
	}
	return s, nil
}

// PoolOption sets one pool setting in CreatePool, UpdatePool and
// EnsurePool. UpdatePool's update mask lists exactly the settings passed.
type PoolOption func(*poolSettings)

type poolSettings struct {
	maxParallelism        *int
	retryByDefault        *bool
	defaultRetry          *RetryPolicy
	statusTTL             *time.Duration
	keepStatusForever     *bool
	maxPerKey             *int
	priorityAging         *time.Duration
	rateLimit             *RateLimit
	defaultAttemptTimeout *time.Duration
	circuitBreaker        *CircuitBreaker
	parent                *string
}

// WithMaxParallelism sets the largest number of items running at once; 0
// pauses the pool.
func WithMaxParallelism(n int) PoolOption {
	return func(s *poolSettings) { s.maxParallelism = &n }
}

// WithRetryByDefault sets whether items that do not say otherwise retry
// with the pool's default policy.
func WithRetryByDefault(retry bool) PoolOption {
	return func(s *poolSettings) { s.retryByDefault = &retry }
}

// WithDefaultRetry sets the pool's retry policy.
func WithDefaultRetry(policy RetryPolicy) PoolOption {
	return func(s *poolSettings) { s.defaultRetry = &policy }
}

// WithStatusTTL sets how long a finished item's status stays readable.
func WithStatusTTL(d time.Duration) PoolOption {
	return func(s *poolSettings) { s.statusTTL = &d }
}

// WithKeepStatusForever keeps finished items' status forever.
func WithKeepStatusForever(keep bool) PoolOption {
	return func(s *poolSettings) { s.keepStatusForever = &keep }
}

// WithMaxPerKey sets the maximum number of items with the same concurrency
// key (WithConcurrencyKey) that run at once; 0 means no per-key limit.
func WithMaxPerKey(n int) PoolOption {
	return func(s *poolSettings) { s.maxPerKey = &n }
}

// WithPriorityAging sets the waiting time that raises a ready item's
// priority by one; 0 restores the server's default of 1 second.
func WithPriorityAging(d time.Duration) PoolOption {
	return func(s *poolSettings) { s.priorityAging = &d }
}

// WithRateLimit limits how fast the pool starts items, across all server
// replicas. A zero RateLimit removes the limit.
func WithRateLimit(limit RateLimit) PoolOption {
	return func(s *poolSettings) { s.rateLimit = &limit }
}

// WithDefaultAttemptTimeout sets the attempt timeout of items that set none
// (WithAttemptTimeout); 0 means none.
func WithDefaultAttemptTimeout(d time.Duration) PoolOption {
	return func(s *poolSettings) { s.defaultAttemptTimeout = &d }
}

// WithCircuitBreaker pauses the pool's new starts while its attempts fail
// too often. A zero CircuitBreaker removes the breaker.
func WithCircuitBreaker(breaker CircuitBreaker) PoolOption {
	return func(s *poolSettings) { s.circuitBreaker = &breaker }
}

// WithParent lets the pool borrow the named pool's idle capacity once its
// own max parallelism is reached; "" means no parent.
func WithParent(pool string) PoolOption {
	return func(s *poolSettings) { s.parent = &pool }
}

func collectPool(opts []PoolOption) *poolSettings {
	s := &poolSettings{}
	for _, opt := range opts {
		if opt != nil {
			opt(s)
		}
	}
	return s
}

// WatchOption narrows or positions a WatchCompletions subscription.
type WatchOption func(*watchSettings)

type watchSettings struct {
	pools     []string
	workIDs   []string
	hasAfter  bool
	after     int64
	connected func(headSequence int64)
}

// WatchPools keeps only completions of these pools; without it every pool.
func WatchPools(pools ...string) WatchOption {
	return func(s *watchSettings) { s.pools = append(s.pools, pools...) }
}

// WatchWorkIDs keeps only completions of these items (at most 1,000).
func WatchWorkIDs(ids ...string) WatchOption {
	return func(s *watchSettings) { s.workIDs = append(s.workIDs, ids...) }
}

// WatchAfter replays the log from the entry after sequence, then follows it
// live. Without it the watch starts at the log's end as of its first
// connection. WatchAfter(0) replays every retained entry.
func WatchAfter(sequence int64) WatchOption {
	return func(s *watchSettings) {
		s.hasAfter = true
		s.after = sequence
	}
}

// WatchConnected calls f with the log's head sequence each time a
// subscription's stream delivers its first message, which shows that the
// server accepted it. f runs on the goroutine that iterates; keep it short.
func WatchConnected(f func(headSequence int64)) WatchOption {
	return func(s *watchSettings) { s.connected = f }
}
