package workpool_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/workpool/workpool/sdk/go/internal/testserver"
	"github.com/workpool/workpool/sdk/go/workpool"
)

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

type fixture struct {
	server *testserver.Server
	client *workpool.Client
	ctx    context.Context
}

func setup(t *testing.T) *fixture {
	t.Helper()
	server := testserver.Start(t)
	client, err := workpool.Dial(server.Addr, workpool.WithLogger(quiet))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { client.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return &fixture{server: server, client: client, ctx: ctx}
}

func (f *fixture) pool(t *testing.T, name string, opts ...workpool.PoolOption) string {
	t.Helper()
	if _, err := f.client.CreatePool(f.ctx, name, opts...); err != nil {
		t.Fatalf("create pool %s: %v", name, err)
	}
	return name
}

// startWorker runs a worker until the test ends.
func (f *fixture) startWorker(t *testing.T, pool string, capacity int, handlers map[string]workpool.HandlerFunc) *workpool.Worker {
	t.Helper()
	conn, err := workpool.NewConn(f.server.Addr)
	if err != nil {
		t.Fatal(err)
	}
	worker, err := workpool.NewWorker(conn, []string{pool}, workpool.WithCapacity(capacity),
		workpool.WithWorkerLogger(quiet), workpool.WithMaxReconnectDelay(time.Second))
	if err != nil {
		t.Fatal(err)
	}
	for name, handler := range handlers {
		worker.Handle(name, handler)
	}
	runErr := make(chan error, 1)
	go func() { runErr <- worker.Run(context.Background()) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = worker.Shutdown(ctx)
		if err := <-runErr; err != nil {
			t.Errorf("worker.Run: %v", err)
		}
		conn.Close()
	})
	return worker
}

func eventually(t *testing.T, what string, check func() (bool, error)) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	var lastErr error
	for time.Now().Before(deadline) {
		ok, err := check()
		if ok {
			return
		}
		lastErr = err
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("timed out waiting for %s (last error: %v)", what, lastErr)
}

func (f *fixture) waitFinished(t *testing.T, workID string) *workpool.WorkStatus {
	t.Helper()
	var status *workpool.WorkStatus
	eventually(t, workID+" to finish", func() (bool, error) {
		var err error
		status, err = f.client.Status(f.ctx, workID)
		return err == nil && status.State == workpool.StateFinished, err
	})
	return status
}

func echo(_ context.Context, task *workpool.Task) (any, error) { return task.Args, nil }

func TestClientEnqueueStatusCancel(t *testing.T) {
	f := setup(t)
	pool := f.pool(t, "paused", workpool.WithMaxParallelism(0))

	enqueued, err := f.client.Enqueue(f.ctx, pool, "job", map[string]any{"n": 1}, workpool.WithIdempotencyKey("k1"))
	if err != nil {
		t.Fatal(err)
	}
	again, err := f.client.Enqueue(f.ctx, pool, "job", map[string]any{"n": 1}, workpool.WithIdempotencyKey("k1"))
	if err != nil {
		t.Fatal(err)
	}
	if again.WorkID != enqueued.WorkID || !again.Deduplicated {
		t.Errorf("repeated idempotency key gave %+v, want the id %s deduplicated", again, enqueued.WorkID)
	}

	status, err := f.client.Status(f.ctx, enqueued.WorkID)
	if err != nil {
		t.Fatal(err)
	}
	if status.State != workpool.StatePending || status.Function != "job" || status.Pool != pool {
		t.Errorf("status = %+v, want pending job in %s", status, pool)
	}

	statuses, err := f.client.StatusBatch(f.ctx, []string{enqueued.WorkID, "wk_01JD9V6GQ8M3T6Y4D3W0Y5B7ZC"})
	if err != nil {
		t.Fatal(err)
	}
	if len(statuses) != 2 || statuses[1].State != workpool.StateNotFound {
		t.Errorf("StatusBatch = %+v, want the second not found", statuses)
	}

	explanation, err := f.client.Explain(f.ctx, enqueued.WorkID)
	if err != nil {
		t.Fatal(err)
	}
	if explanation.Reason != workpool.WaitPoolPaused || explanation.Detail == "" {
		t.Errorf("Explain = %+v, want pool_paused with a detail", explanation)
	}

	outcome, err := f.client.Cancel(f.ctx, enqueued.WorkID)
	if err != nil {
		t.Fatal(err)
	}
	if outcome != workpool.Canceled {
		t.Errorf("Cancel = %v, want canceled", outcome)
	}
	status = f.waitFinished(t, enqueued.WorkID)
	if status.Result.Kind != workpool.ResultCanceled {
		t.Errorf("result = %v, want canceled", status.Result)
	}

	batch, err := f.client.EnqueueBatch(f.ctx, pool, []workpool.WorkItem{
		{Function: "job", Args: 1}, {Function: "job", Args: 2, Options: []workpool.EnqueueOption{workpool.WithoutRetry()}},
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(batch.WorkIDs) != 2 {
		t.Fatalf("EnqueueBatch ids = %v, want 2", batch.WorkIDs)
	}
	counts, err := f.client.CancelAll(f.ctx, pool)
	if err != nil {
		t.Fatal(err)
	}
	if counts.Canceled != 2 {
		t.Errorf("CancelAll = %+v, want 2 canceled", counts)
	}
}

func TestClientErrorsMapCodes(t *testing.T) {
	f := setup(t)
	pool := f.pool(t, "errors")

	_, err := f.client.Enqueue(f.ctx, "missing-pool", "job", nil)
	if !errors.Is(err, workpool.ErrNotFound) {
		t.Errorf("enqueue to a missing pool: %v, want ErrNotFound", err)
	}

	_, err = f.client.CreatePool(f.ctx, pool)
	if !errors.Is(err, workpool.ErrAlreadyExists) {
		t.Errorf("second CreatePool: %v, want ErrAlreadyExists", err)
	}

	_, err = f.client.Enqueue(f.ctx, pool, "job", nil, workpool.WithRetryPolicy(workpool.RetryPolicy{MaxAttempts: 2, Base: 0.5}))
	var wpErr *workpool.Error
	if !errors.As(err, &wpErr) || !errors.Is(err, workpool.ErrInvalidArgument) {
		t.Fatalf("enqueue with base 0.5: %v, want ErrInvalidArgument", err)
	}
	if len(wpErr.Violations) == 0 {
		t.Fatalf("enqueue with base 0.5: no field violations in %v", err)
	}
	if !wpErr.HasViolation("work.retry_policy.base") {
		t.Errorf("violations = %+v, want one naming work.retry_policy.base", wpErr.Violations)
	}

	_, err = f.client.Status(f.ctx, "not-an-id")
	if !errors.Is(err, workpool.ErrInvalidArgument) {
		t.Errorf("status of a malformed id: %v, want ErrInvalidArgument", err)
	}
	_, err = f.client.Status(f.ctx, "wk_01JD9V6GQ8M3T6Y4D3W0Y5B7ZC")
	if !errors.Is(err, workpool.ErrNotFound) {
		t.Errorf("status of an unknown id: %v, want ErrNotFound", err)
	}
}

func TestPoolCalls(t *testing.T) {
	f := setup(t)
	policy := workpool.RetryPolicy{MaxAttempts: 3, InitialBackoff: 100 * time.Millisecond, Base: 3}
	created, err := f.client.EnsurePool(f.ctx, "pools-a", workpool.WithMaxParallelism(4),
		workpool.WithRetryByDefault(true), workpool.WithDefaultRetry(policy))
	if err != nil {
		t.Fatal(err)
	}
	if created.MaxParallelism != 4 || !created.RetryByDefault || created.DefaultRetry != policy {
		t.Errorf("EnsurePool created %+v", created)
	}

	same, err := f.client.EnsurePool(f.ctx, "pools-a", workpool.WithMaxParallelism(4), workpool.WithDefaultRetry(policy))
	if err != nil {
		t.Fatal(err)
	}
	if same.Stats == nil {
		t.Errorf("EnsurePool of an unchanged pool should return GetPool's answer with stats, got %+v", same)
	}

	updated, err := f.client.UpdatePool(f.ctx, "pools-a", workpool.WithMaxParallelism(7))
	if err != nil {
		t.Fatal(err)
	}
	if updated.MaxParallelism != 7 || !updated.RetryByDefault {
		t.Errorf("UpdatePool = %+v, want parallelism 7 and retry kept", updated)
	}
	if _, err := f.client.CreatePool(f.ctx, "pools-b"); err != nil {
		t.Fatal(err)
	}
	pools, err := f.client.ListPools(f.ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(pools) != 2 || pools[0].Name != "pools-a" || pools[1].Name != "pools-b" {
		t.Errorf("ListPools = %+v", pools)
	}
	if err := f.client.DeletePool(f.ctx, "pools-b"); err != nil {
		t.Fatal(err)
	}
	if _, err := f.client.GetPool(f.ctx, "pools-b"); !errors.Is(err, workpool.ErrNotFound) {
		t.Errorf("GetPool after delete: %v, want ErrNotFound", err)
	}
	if _, err := f.client.UpdatePool(f.ctx, "pools-a"); err == nil {
		t.Error("UpdatePool without settings should fail before the call")
	}
}

func TestWorkerRunsItemsAndWatchSeesThem(t *testing.T) {
	f := setup(t)
	pool := f.pool(t, "echo")
	f.startWorker(t, pool, 2, map[string]workpool.HandlerFunc{"echo": echo})

	items := make([]workpool.WorkItem, 5)
	for i := range items {
		items[i] = workpool.WorkItem{Function: "echo", Args: map[string]any{"index": i}}
	}
	batch, err := f.client.EnqueueBatch(f.ctx, pool, items)
	if err != nil {
		t.Fatal(err)
	}

	seen := map[string]float64{}
	var lastSequence int64 = batch.CompletionSequence
	for completion, err := range f.client.WatchCompletions(f.ctx, workpool.WatchPools(pool), workpool.WatchAfter(batch.CompletionSequence)) {
		if err != nil {
			t.Fatal(err)
		}
		if completion.Sequence <= lastSequence {
			t.Errorf("sequence %d after %d", completion.Sequence, lastSequence)
		}
		lastSequence = completion.Sequence
		if completion.Result.Kind != workpool.ResultSuccess {
			t.Fatalf("completion %+v is not a success", completion.Result)
		}
		var args struct{ Index int }
		if err := completion.Result.Decode(&args); err != nil {
			t.Fatal(err)
		}
		seen[completion.WorkID] = float64(args.Index)
		if len(seen) == len(items) {
			break
		}
	}
	for i, id := range batch.WorkIDs {
		if index, ok := seen[id]; !ok || index != float64(i) {
			t.Errorf("item %d (%s): return index %v, seen %v", i, id, index, ok)
		}
	}
}

func TestWorkerCapacityBoundsHandlers(t *testing.T) {
	f := setup(t)
	pool := f.pool(t, "capacity", workpool.WithMaxParallelism(10))
	var running, maxRunning atomic.Int32
	f.startWorker(t, pool, 2, map[string]workpool.HandlerFunc{"slow": func(ctx context.Context, task *workpool.Task) (any, error) {
		now := running.Add(1)
		defer running.Add(-1)
		for {
			seen := maxRunning.Load()
			if now <= seen || maxRunning.CompareAndSwap(seen, now) {
				break
			}
		}
		time.Sleep(150 * time.Millisecond)
		return nil, nil
	}})
	var ids []string
	for range 6 {
		enqueued, err := f.client.Enqueue(f.ctx, pool, "slow", nil)
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, enqueued.WorkID)
	}
	for _, id := range ids {
		if status := f.waitFinished(t, id); status.Result.Kind != workpool.ResultSuccess {
			t.Errorf("%s ended %v", id, status.Result)
		}
	}
	if got := maxRunning.Load(); got != 2 {
		t.Errorf("max handlers at once = %d, want 2 (the capacity)", got)
	}
}

func TestWorkerFailuresRetryOrStop(t *testing.T) {
	f := setup(t)
	pool := f.pool(t, "failures", workpool.WithRetryByDefault(true),
		workpool.WithDefaultRetry(workpool.RetryPolicy{MaxAttempts: 5, InitialBackoff: 10 * time.Millisecond}))
	var flakyRuns, fatalRuns atomic.Int32
	f.startWorker(t, pool, 4, map[string]workpool.HandlerFunc{
		"flaky": func(ctx context.Context, task *workpool.Task) (any, error) {
			flakyRuns.Add(1)
			if task.Attempt < 3 {
				return nil, fmt.Errorf("attempt %d failed", task.Attempt)
			}
			return "ok", nil
		},
		"fatal": func(ctx context.Context, task *workpool.Task) (any, error) {
			fatalRuns.Add(1)
			return nil, workpool.NonRetryable(errors.New("card declined"))
		},
		"panics": func(ctx context.Context, task *workpool.Task) (any, error) {
			panic("bad state")
		},
	})

	flaky, err := f.client.Enqueue(f.ctx, pool, "flaky", nil)
	if err != nil {
		t.Fatal(err)
	}
	fatal, err := f.client.Enqueue(f.ctx, pool, "fatal", nil)
	if err != nil {
		t.Fatal(err)
	}
	panics, err := f.client.Enqueue(f.ctx, pool, "panics", nil, workpool.WithoutRetry())
	if err != nil {
		t.Fatal(err)
	}

	status := f.waitFinished(t, flaky.WorkID)
	if status.Result.Kind != workpool.ResultSuccess || status.Result.ReturnValue != "ok" || flakyRuns.Load() != 3 {
		t.Errorf("flaky ended %v after %d runs, want success after 3", status.Result, flakyRuns.Load())
	}
	status = f.waitFinished(t, fatal.WorkID)
	if status.Result.Kind != workpool.ResultFailure || status.Result.Error != "card declined" {
		t.Errorf("fatal ended %v, want failure \"card declined\"", status.Result)
	}
	if runs := fatalRuns.Load(); runs != 1 {
		t.Errorf("non-retryable handler ran %d times, want 1", runs)
	}
	status = f.waitFinished(t, panics.WorkID)
	if status.Result.Kind != workpool.ResultFailure || status.Result.Error != "handler panicked: bad state" {
		t.Errorf("panicking handler ended %v", status.Result)
	}
}

func TestWorkerCancelReachesHandler(t *testing.T) {
	f := setup(t)
	pool := f.pool(t, "cancel")
	started := make(chan struct{}, 1)
	causes := make(chan error, 1)
	f.startWorker(t, pool, 1, map[string]workpool.HandlerFunc{"wait": func(ctx context.Context, task *workpool.Task) (any, error) {
		started <- struct{}{}
		<-ctx.Done()
		causes <- context.Cause(ctx)
		return nil, errors.New("stopped after cancel")
	}})
	enqueued, err := f.client.Enqueue(f.ctx, pool, "wait", nil)
	if err != nil {
		t.Fatal(err)
	}
	select {
	case <-started:
	case <-time.After(10 * time.Second):
		t.Fatal("handler did not start")
	}
	outcome, err := f.client.Cancel(f.ctx, enqueued.WorkID)
	if err != nil {
		t.Fatal(err)
	}
	if outcome != workpool.CancelRequested {
		t.Errorf("Cancel = %v, want cancel_requested", outcome)
	}
	if cause := <-causes; !errors.Is(cause, workpool.ErrCancelRequested) {
		t.Errorf("handler's cancel cause = %v, want ErrCancelRequested", cause)
	}
	if status := f.waitFinished(t, enqueued.WorkID); status.Result.Kind != workpool.ResultCanceled {
		t.Errorf("result = %v, want canceled", status.Result)
	}
}

func TestWorkerShutdownWaitsForHandlers(t *testing.T) {
	f := setup(t)
	pool := f.pool(t, "shutdown")
	conn, err := workpool.NewConn(f.server.Addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	worker, err := workpool.NewWorker(conn, []string{pool}, workpool.WithCapacity(2), workpool.WithWorkerLogger(quiet))
	if err != nil {
		t.Fatal(err)
	}
	started := make(chan struct{}, 2)
	worker.Handle("slow", func(ctx context.Context, task *workpool.Task) (any, error) {
		started <- struct{}{}
		time.Sleep(500 * time.Millisecond)
		return "done", nil
	})
	runCtx, stopRun := context.WithCancel(context.Background())
	runErr := make(chan error, 1)
	go func() { runErr <- worker.Run(runCtx) }()

	enqueued, err := f.client.Enqueue(f.ctx, pool, "slow", nil)
	if err != nil {
		t.Fatal(err)
	}
	<-started
	stopRun()
	if err := <-runErr; err != nil {
		t.Fatalf("Run: %v", err)
	}
	status, err := f.client.Status(f.ctx, enqueued.WorkID)
	if err != nil {
		t.Fatal(err)
	}
	if status.State != workpool.StateFinished || status.Result.Kind != workpool.ResultSuccess {
		t.Errorf("after a graceful stop the item is %v %v, want finished with success", status.State, status.Result)
	}

	// A stopped worker takes no more work.
	late, err := f.client.Enqueue(f.ctx, pool, "slow", nil)
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(300 * time.Millisecond)
	if status, err := f.client.Status(f.ctx, late.WorkID); err != nil || status.State != workpool.StatePending {
		t.Errorf("item enqueued after the stop is %v (%v), want pending", status, err)
	}
}

func TestWatchAndWorkerSurviveServerRestart(t *testing.T) {
	f := setup(t)
	pool := f.pool(t, "restart")
	f.startWorker(t, pool, 2, map[string]workpool.HandlerFunc{"echo": echo})

	watchCtx, stopWatch := context.WithCancel(f.ctx)
	defer stopWatch()
	type seen struct {
		sequence int64
		workID   string
	}
	completions := make(chan seen, 100)
	var watchErr error
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for completion, err := range f.client.WatchCompletions(watchCtx, workpool.WatchPools(pool)) {
			if err != nil {
				watchErr = err
				return
			}
			completions <- seen{completion.Sequence, completion.WorkID}
		}
	}()

	collect := func(n int) []seen {
		var got []seen
		for len(got) < n {
			select {
			case c := <-completions:
				got = append(got, c)
			case <-time.After(20 * time.Second):
				t.Fatalf("watch delivered %d of %d completions", len(got), n)
			}
		}
		return got
	}

	// Give the watch time to connect, so it starts at the log's end.
	time.Sleep(300 * time.Millisecond)
	for i := range 2 {
		if _, err := f.client.Enqueue(f.ctx, pool, "echo", i); err != nil {
			t.Fatal(err)
		}
	}
	before := collect(2)

	f.server.Restart()
	for i := range 2 {
		eventually(t, "enqueue after restart", func() (bool, error) {
			_, err := f.client.Enqueue(f.ctx, pool, "echo", 10+i)
			return err == nil, err
		})
	}
	after := collect(2)

	all := append(before, after...)
	for i := 1; i < len(all); i++ {
		if all[i].sequence != all[i-1].sequence+1 {
			t.Errorf("sequences %d then %d, want consecutive and no repeat", all[i-1].sequence, all[i].sequence)
		}
	}
	select {
	case extra := <-completions:
		t.Errorf("unexpected extra completion %+v", extra)
	case <-time.After(500 * time.Millisecond):
	}
	stopWatch()
	wg.Wait()
	if !errors.Is(watchErr, context.Canceled) {
		t.Errorf("watch ended with %v, want context.Canceled", watchErr)
	}
}
