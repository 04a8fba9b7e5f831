package workpool_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/workpool/workpool/sdk/go/workpool"
)

func TestSchedulingSettingsRoundTrip(t *testing.T) {
	f := setup(t)
	pool := f.pool(t, "scheduling-settings",
		workpool.WithMaxPerKey(2),
		workpool.WithPriorityAging(250*time.Millisecond),
		workpool.WithRateLimit(workpool.RateLimit{PerSecond: 50, Burst: 5}),
		workpool.WithDefaultAttemptTimeout(30*time.Second),
		workpool.WithCircuitBreaker(workpool.CircuitBreaker{FailureRate: 0.5}))

	got, err := f.client.GetPool(f.ctx, pool)
	if err != nil {
		t.Fatal(err)
	}
	if got.MaxPerKey != 2 {
		t.Errorf("MaxPerKey = %d, want 2", got.MaxPerKey)
	}
	if got.PriorityAging != 250*time.Millisecond {
		t.Errorf("PriorityAging = %v, want 250ms", got.PriorityAging)
	}
	if got.RateLimit == nil || got.RateLimit.PerSecond != 50 || got.RateLimit.Burst != 5 {
		t.Errorf("RateLimit = %+v, want 50/s with a burst of 5", got.RateLimit)
	}
	if got.DefaultAttemptTimeout != 30*time.Second {
		t.Errorf("DefaultAttemptTimeout = %v, want 30s", got.DefaultAttemptTimeout)
	}
	if got.CircuitBreaker == nil || got.CircuitBreaker.FailureRate != 0.5 {
		t.Errorf("CircuitBreaker = %+v, want a failure rate of 0.5", got.CircuitBreaker)
	}
	if got.Stats == nil || got.Stats.CircuitState != workpool.CircuitClosed {
		t.Errorf("Stats = %+v, want a closed breaker", got.Stats)
	}

	updated, err := f.client.UpdatePool(f.ctx, pool, workpool.WithMaxPerKey(0), workpool.WithRateLimit(workpool.RateLimit{}))
	if err != nil {
		t.Fatal(err)
	}
	if updated.MaxPerKey != 0 {
		t.Errorf("MaxPerKey after clearing = %d, want 0", updated.MaxPerKey)
	}
	if updated.RateLimit != nil {
		t.Errorf("RateLimit after clearing = %+v, want none", updated.RateLimit)
	}
}

func TestEnqueueSchedulingFieldsInStatus(t *testing.T) {
	f := setup(t)
	pool := f.pool(t, "scheduling-status", workpool.WithMaxParallelism(0))
	enqueued, err := f.client.Enqueue(f.ctx, pool, "f", nil,
		workpool.WithConcurrencyKey("tenant-a"), workpool.WithPriority(-7))
	if err != nil {
		t.Fatal(err)
	}
	status, err := f.client.Status(f.ctx, enqueued.WorkID)
	if err != nil {
		t.Fatal(err)
	}
	if status.ConcurrencyKey != "tenant-a" {
		t.Errorf("ConcurrencyKey = %q, want tenant-a", status.ConcurrencyKey)
	}
	if status.Priority != -7 {
		t.Errorf("Priority = %d, want -7", status.Priority)
	}

	_, err = f.client.Enqueue(f.ctx, pool, "f", nil, workpool.WithPriority(2_000_000))
	var wpErr *workpool.Error
	if !errors.As(err, &wpErr) || !wpErr.HasViolation("work.priority") {
		t.Errorf("priority 2,000,000 gave %v, want INVALID_ARGUMENT naming work.priority", err)
	}
}

func TestAttemptTimeoutCancelsHandler(t *testing.T) {
	f := setup(t)
	pool := f.pool(t, "attempt-timeout")
	causes := make(chan error, 1)
	f.startWorker(t, pool, 1, map[string]workpool.HandlerFunc{"wait": func(ctx context.Context, task *workpool.Task) (any, error) {
		if task.Deadline.IsZero() {
			return nil, errors.New("the assignment has no deadline")
		}
		<-ctx.Done()
		causes <- context.Cause(ctx)
		return nil, errors.New("stopped after timeout")
	}})

	enqueued, err := f.client.Enqueue(f.ctx, pool, "wait", nil,
		workpool.WithAttemptTimeout(200*time.Millisecond), workpool.WithoutRetry())
	if err != nil {
		t.Fatal(err)
	}
	select {
	case cause := <-causes:
		if !errors.Is(cause, workpool.ErrAttemptTimedOut) {
			t.Errorf("handler's cancel cause = %v, want ErrAttemptTimedOut", cause)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("the handler got no cancel after its attempt timeout")
	}
	status := f.waitFinished(t, enqueued.WorkID)
	if status.Result.Kind != workpool.ResultFailure {
		t.Errorf("result = %v, want failure", status.Result)
	}
}

func TestContinueRunsItemAgain(t *testing.T) {
	f := setup(t)
	pool := f.pool(t, "continue")
	f.startWorker(t, pool, 1, map[string]workpool.HandlerFunc{"page": func(_ context.Context, task *workpool.Task) (any, error) {
		var args struct {
			Page int `json:"page"`
		}
		if err := task.Decode(&args); err != nil {
			return nil, err
		}
		if args.Page < 3 {
			return workpool.Continue{Args: map[string]any{"page": args.Page + 1}}, nil
		}
		return map[string]any{"last_page": args.Page}, nil
	}})

	enqueued, err := f.client.Enqueue(f.ctx, pool, "page", map[string]any{"page": 1})
	if err != nil {
		t.Fatal(err)
	}
	status := f.waitFinished(t, enqueued.WorkID)
	if status.Result.Kind != workpool.ResultSuccess {
		t.Fatalf("result = %v, want success", status.Result)
	}
	if last := status.Result.ReturnValue.(map[string]any)["last_page"]; last != 3.0 {
		t.Errorf("last_page = %v, want 3", last)
	}
	if status.Continuations != 2 {
		t.Errorf("Continuations = %d, want 2", status.Continuations)
	}
}
