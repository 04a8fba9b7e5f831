package workpool

import (
	"fmt"
	"time"

	"google.golang.org/protobuf/types/known/structpb"
)

// WorkState is the lifecycle state of a work item.
type WorkState int

// Work states. StateNotFound appears only in StatusBatch results; Status
// returns ErrNotFound instead.
const (
	StateUnspecified WorkState = iota
	StatePending
	StateRunning
	StateFinished
	StateNotFound
)

func (s WorkState) String() string {
	switch s {
	case StatePending:
		return "pending"
	case StateRunning:
		return "running"
	case StateFinished:
		return "finished"
	case StateNotFound:
		return "not_found"
	}
	return "unspecified"
}

// ResultKind is the kind of a work item's final result.
type ResultKind int

// Result kinds.
const (
	ResultUnspecified ResultKind = iota
	ResultSuccess
	ResultFailure
	ResultCanceled
)

func (k ResultKind) String() string {
	switch k {
	case ResultSuccess:
		return "success"
	case ResultFailure:
		return "failure"
	case ResultCanceled:
		return "canceled"
	}
	return "unspecified"
}

// Result is the final result of a work item.
type Result struct {
	Kind ResultKind
	// ReturnValue is the decoded return value of a success (see FromValue).
	ReturnValue any
	// Error is the message of a failure.
	Error string
	// NonRetryable is true when the worker marked the failure as not worth
	// retrying.
	NonRetryable bool
	raw          *structpb.Value
}

// Decode stores the return value of a success in dst through its JSON
// form, like json.Unmarshal.
func (r *Result) Decode(dst any) error { return DecodeValue(r.raw, dst) }

// RawReturnValue returns the return value as sent, or nil.
func (r *Result) RawReturnValue() *structpb.Value { return r.raw }

func (r *Result) String() string {
	switch r.Kind {
	case ResultSuccess:
		return fmt.Sprintf("success(%v)", r.ReturnValue)
	case ResultFailure:
		return fmt.Sprintf("failure(%q)", r.Error)
	}
	return r.Kind.String()
}

// WorkStatus is a snapshot of one work item.
type WorkStatus struct {
	WorkID string
	State  WorkState
	// PreviousAttempts counts the attempts that have ended, not a running one.
	PreviousAttempts int
	// Result is set only when State is StateFinished.
	Result   *Result
	Pool     string
	Function string
	// EnqueuedAt, ReadyAt (while pending) and FinishedAt are zero when unset.
	EnqueuedAt time.Time
	ReadyAt    time.Time
	FinishedAt time.Time
	// LastError is the error of the most recent failed attempt, if any.
	LastError string
	// ConcurrencyKey is the key given at enqueue, "" when none.
	ConcurrencyKey string
	// Priority is the priority given at enqueue, without aging.
	Priority int
	// Continuations counts the attempts that ended with a continuation;
	// PreviousAttempts counts them too.
	Continuations int
}

// Completion is one entry of the completion log.
type Completion struct {
	// Sequence is the gap-free position in the log.
	Sequence int64
	WorkID   string
	Pool     string
	Function string
	Result   *Result
	// Context is the decoded context of the item's on-complete, or nil.
	Context any
	// Attempts is the number of attempts made, 0 when canceled before start.
	Attempts int
	// Continuations counts the attempts that ended with a continuation;
	// Attempts counts them too.
	Continuations int
	FinishedAt    time.Time
}

// CancelOutcome is the outcome of a cancel.
type CancelOutcome int

// Cancel outcomes.
const (
	CancelUnspecified CancelOutcome = iota
	// Canceled: the item was pending and is now finished as canceled.
	Canceled
	// CancelRequested: the item is running and its worker got a cancel
	// request. It ends as canceled unless the attempt still succeeds.
	CancelRequested
	// AlreadyFinished: nothing changed.
	AlreadyFinished
	// CancelNotFound: no such item, or its status expired; nothing changed.
	CancelNotFound
)

func (o CancelOutcome) String() string {
	switch o {
	case Canceled:
		return "canceled"
	case CancelRequested:
		return "cancel_requested"
	case AlreadyFinished:
		return "already_finished"
	case CancelNotFound:
		return "not_found"
	}
	return "unspecified"
}

// CancelAllResult counts what CancelAll did.
type CancelAllResult struct {
	// Canceled counts pending items now finished as canceled.
	Canceled int64
	// CancelRequested counts running items whose workers got a cancel request.
	CancelRequested int64
}

// RetryPolicy decides how often and how soon a failed item runs again. The
// delay before attempt k+1 is InitialBackoff * Base^(k-1), times a random
// factor in [0.5, 1.5), capped by MaxBackoff. MaxAttempts is required; a
// zero InitialBackoff, Base or MaxBackoff is left unset, so the server's
// default applies: 250 ms, base 2, no cap.
//
// NOTE: a zero InitialBackoff cannot ask for an immediate retry because it
// means "server default"; use time.Nanosecond.
type RetryPolicy struct {
	// MaxAttempts counts every attempt, the first included; 1 means no
	// retry. Values below 1 are rejected before any call.
	MaxAttempts    int
	InitialBackoff time.Duration
	Base           float64
	MaxBackoff     time.Duration
}

// Pool is a pool's settings, with Stats filled in by GetPool.
type Pool struct {
	Name string
	// MaxParallelism is the largest number of items that run at once; 0
	// pauses the pool.
	MaxParallelism int
	RetryByDefault bool
	// DefaultRetry has the server's defaults filled in for unset fields.
	DefaultRetry      RetryPolicy
	StatusTTL         time.Duration
	KeepStatusForever bool
	// MaxPerKey is the maximum number of items with the same concurrency
	// key that run at once; 0 means no per-key limit.
	MaxPerKey int
	// PriorityAging is the waiting time that raises a ready item's priority
	// by one, with the server's default of 1 second filled in.
	PriorityAging time.Duration
	// RateLimit is nil when the pool has no rate limit.
	RateLimit *RateLimit
	// DefaultAttemptTimeout is 0 when items without a timeout have none.
	DefaultAttemptTimeout time.Duration
	// CircuitBreaker is nil when the pool has no breaker.
	CircuitBreaker *CircuitBreaker
	// Parent is the pool whose idle capacity this pool borrows, or "".
	Parent string
	// Stats is set only by GetPool.
	Stats *PoolStats
}

// RateLimit is a token bucket that limits how fast a pool starts items.
type RateLimit struct {
	// PerSecond is the number of tokens added per second; above 0.
	PerSecond float64
	// Burst is the maximum number of tokens held, the starts allowed in one
	// burst; 0 means 1.
	Burst int
}

// CircuitBreaker pauses a pool's new starts while its attempts fail too
// often. Zero fields other than FailureRate take the server's defaults: a
// 60 s window, 10 attempts and a 30 s cool-down.
type CircuitBreaker struct {
	// FailureRate is the fraction of failed attempts, above 0 and at most 1,
	// that opens the breaker.
	FailureRate float64
	// Window is the span of recent attempts the rate is computed over.
	Window time.Duration
	// MinAttempts is the fewest attempts in the window before the rate
	// counts.
	MinAttempts int
	// CoolDown is how long the breaker stays open before one probe attempt.
	CoolDown time.Duration
}

// CircuitState is the state of a pool's circuit breaker.
type CircuitState int

// Circuit states. CircuitUnspecified means the pool has no breaker.
const (
	CircuitUnspecified CircuitState = iota
	CircuitClosed
	CircuitOpen
	CircuitHalfOpen
)

func (s CircuitState) String() string {
	switch s {
	case CircuitClosed:
		return "closed"
	case CircuitOpen:
		return "open"
	case CircuitHalfOpen:
		return "half_open"
	}
	return "unspecified"
}

// PoolStats counts a pool's unfinished items and reports its breaker.
type PoolStats struct {
	Pending int64
	Running int64
	// Borrowed counts the items running on capacity borrowed from the
	// parent pool.
	Borrowed     int64
	CircuitState CircuitState
	// CircuitOpenUntil is the end of the cool-down while the breaker is
	// open, zero otherwise.
	CircuitOpenUntil time.Time
}

// EnqueueResult is the response to Enqueue.
type EnqueueResult struct {
	WorkID string
	// Deduplicated is true when the idempotency key matched an earlier item
	// and WorkID is that item's id.
	Deduplicated bool
	// CompletionSequence is the log head at enqueue time: a watch after it
	// cannot miss this item's completion.
	CompletionSequence int64
}

// EnqueueBatchResult is the response to EnqueueBatch.
type EnqueueBatchResult struct {
	// WorkIDs are in the order of the request's items.
	WorkIDs            []string
	CompletionSequence int64
}

// WorkItem is one item of an EnqueueBatch call.
type WorkItem struct {
	Function string
	Args     any
	Options  []EnqueueOption
}

// FollowUp is the decoded args of an on-complete follow-up item.
type FollowUp struct {
	// WorkID is the id of the item that finished.
	WorkID string
	// Context is the caller's on-complete context, or nil.
	Context any
	Result  *Result
}
