package workpool

import (
	"context"
	"fmt"
	"time"

	"google.golang.org/protobuf/types/known/structpb"

	pb "github.com/workpool/workpool/sdk/go/gen/workpool/v1"
)

// Task is one attempt of a work item, as a handler receives it.
type Task struct {
	WorkID string
	// Attempt numbers the attempts of the item from 1.
	Attempt  int
	Pool     string
	Function string
	// Args is the decoded args (see FromValue); Decode fills a typed value.
	Args any
	// LeaseExpiresAt is when the lease ends unless the worker's heartbeats
	// renew it, which they do while the handler runs.
	LeaseExpiresAt time.Time
	// Deadline is when the server ends the attempt as timed out; zero when
	// the item has no attempt timeout.
	Deadline time.Time
	raw      *structpb.Value
}

func newTask(a *pb.Assignment) *Task {
	return &Task{
		WorkID:         a.GetWorkId(),
		Attempt:        int(a.GetAttempt()),
		Pool:           a.GetPool(),
		Function:       a.GetFunction(),
		Args:           FromValue(a.GetArgs()),
		LeaseExpiresAt: timeOf(a.GetLeaseExpiresAt()),
		Deadline:       timeOf(a.GetDeadline()),
		raw:            a.GetArgs(),
	}
}

// Decode stores the args in dst through their JSON form, like
// json.Unmarshal, so dst may be a pointer to a struct with json tags.
func (t *Task) Decode(dst any) error { return DecodeValue(t.raw, dst) }

// RawArgs returns the args as received.
func (t *Task) RawArgs() *structpb.Value { return t.raw }

// FollowUp decodes the args of an on-complete follow-up item.
func (t *Task) FollowUp() (*FollowUp, error) { return ParseFollowUp(t.raw) }

// Continue is a handler result that ends the attempt and runs the item
// again at once with Args: return workpool.Continue{Args: next}, nil. The
// item keeps its id, and the next attempt starts with a fresh retry budget.
type Continue struct {
	Args any
}

// HandlerFunc runs one attempt. The returned value, any JSON-like value
// (see ToValue), becomes the item's return value, unless it is a
// Continue. An error fails the attempt, and the item's retry policy
// decides what follows; wrap it with NonRetryable to end the item at once.
//
// ctx is canceled when the attempt should stop: context.Cause(ctx) is
// ErrCancelRequested when a client canceled the item, ErrAttemptTimedOut
// when the attempt ran past its attempt timeout, ErrLeaseLost when the
// server took the lease back, and ErrWorkerStopped when the worker's stream
// closed or its stop grace period ended. Cancellation is cooperative: the
// worker cannot interrupt a handler that ignores ctx.
type HandlerFunc func(ctx context.Context, task *Task) (any, error)

// FollowUpFunc handles an on-complete follow-up, with its args decoded.
type FollowUpFunc func(ctx context.Context, task *Task, followUp *FollowUp) error

// callHandler runs a handler and turns its outcome, a panic included, into
// an AttemptResult.
func callHandler(ctx context.Context, handler HandlerFunc, task *Task) (result *pb.AttemptResult) {
	result = &pb.AttemptResult{WorkId: task.WorkID, Attempt: int32(task.Attempt)}
	defer func() {
		if recovered := recover(); recovered != nil {
			result.Outcome = failure(fmt.Sprintf("handler panicked: %v", recovered), false)
		}
	}()

	if handler == nil {
		// The hello listed only registered functions, so this is a server bug.
		result.Outcome = failure(fmt.Sprintf("no handler is registered for %q on this worker", task.Function), true)
		return result
	}
	value, err := handler(ctx, task)
	if err != nil {
		result.Outcome = failure(err.Error(), IsNonRetryable(err))
		return result
	}
	if continuation, ok := asContinue(value); ok {
		args, err := toValue(continuation.Args, "continuation args")
		if err != nil {
			result.Outcome = failure(err.Error(), true)
			return result
		}
		result.Outcome = &pb.AttemptResult_Continuation{Continuation: &pb.AttemptContinuation{Args: args}}
		return result
	}
	returnValue, err := toValue(value, "return value")
	if err != nil {
		// The same code returns the same kind of value on every retry.
		result.Outcome = failure(err.Error(), true)
		return result
	}
	result.Outcome = &pb.AttemptResult_Success{Success: &pb.AttemptSuccess{ReturnValue: returnValue}}
	return result
}

func asContinue(value any) (Continue, bool) {
	switch continuation := value.(type) {
	case Continue:
		return continuation, true
	case *Continue:
		if continuation != nil {
			return *continuation, true
		}
	}
	return Continue{}, false
}

func failure(message string, nonRetryable bool) *pb.AttemptResult_Failure {
	return &pb.AttemptResult_Failure{Failure: &pb.AttemptFailure{Error: message, NonRetryable: nonRetryable}}
}
