package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"sync"
	"time"

	"github.com/workpool/workpool/sdk/go/workpool"
)

// runRole plays one role of the cross-language flows, printing one JSON
// object a line on standard output.
func runRole(ctx context.Context, server, role, pool string, count int, after int64) error {
	switch role {
	case "enqueue":
		return roleEnqueue(ctx, server, pool, count)
	case "worker":
		return roleWorker(ctx, server, pool, count)
	case "watch":
		return roleWatch(ctx, server, pool, count, after)
	}
	return fmt.Errorf("unknown role %q; use enqueue, worker or watch", role)
}

func printJSON(v any) error {
	data, err := json.Marshal(v)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintln(os.Stdout, string(data))
	return err
}

func roleEnqueue(ctx context.Context, server, pool string, count int) error {
	client, err := dial(server)
	if err != nil {
		return err
	}
	defer client.Close()
	for i := range count {
		enqueued, err := client.Enqueue(ctx, pool, "echo", map[string]any{"index": i})
		if err != nil {
			return fmt.Errorf("enqueue item %d: %w", i, err)
		}
		if err := printJSON(map[string]any{"work_id": enqueued.WorkID}); err != nil {
			return err
		}
	}
	return nil
}

func roleWorker(ctx context.Context, server, pool string, count int) error {
	conn, err := newConn(server)
	if err != nil {
		return err
	}
	defer conn.Close()
	worker, err := workpool.NewWorker(conn, []string{pool}, workpool.WithCapacity(4))
	if err != nil {
		return err
	}

	var mu sync.Mutex
	ran := 0
	enough := make(chan struct{})
	worker.Handle("echo", func(_ context.Context, task *workpool.Task) (any, error) {
		mu.Lock()
		defer mu.Unlock()
		ran++
		_ = printJSON(map[string]any{"work_id": task.WorkID})
		if ran == count {
			close(enough)
		}
		return task.Args, nil
	})

	runCtx, stop := context.WithCancel(ctx)
	defer stop()
	done := make(chan error, 1)
	go func() { done <- worker.Run(runCtx) }()
	select {
	case <-enough:
		// The last result still has to reach the server: a graceful stop
		// waits for its acknowledgement.
		shutdownCtx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := worker.Shutdown(shutdownCtx); err != nil {
			return fmt.Errorf("graceful stop: %w", err)
		}
		return <-done
	case err := <-done:
		if err == nil {
			err = ctx.Err()
		}
		return fmt.Errorf("worker stopped after %d of %d items: %v", ran, count, err)
	}
}

func roleWatch(ctx context.Context, server, pool string, count int, after int64) error {
	client, err := dial(server)
	if err != nil {
		return err
	}
	defer client.Close()
	got := 0
	for completion, err := range client.WatchCompletions(ctx, workpool.WatchPools(pool), workpool.WatchAfter(after)) {
		if err != nil {
			return err
		}
		line := map[string]any{
			"sequence": completion.Sequence,
			"work_id":  completion.WorkID,
			"result":   completion.Result.Kind.String(),
		}
		if completion.Result.Kind == workpool.ResultSuccess {
			line["return_value"] = completion.Result.ReturnValue
		}
		if err := printJSON(line); err != nil {
			return err
		}
		got++
		if got == count {
			return nil
		}
	}
	return nil
}
