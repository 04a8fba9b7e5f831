// Command quickstart declares a pool, runs a worker in the same process,
// enqueues three emails and waits for their completions.
//
//	go run ./examples/quickstart 127.0.0.1:50051
package main

import (
	"context"
	"errors"
	"fmt"
	"log"
	"os"
	"strings"
	"time"

	"github.com/workpool/workpool/sdk/go/workpool"
)

type email struct {
	To string `json:"to"`
}

func main() {
	target := "127.0.0.1:50051"
	if len(os.Args) > 1 {
		target = os.Args[1]
	}
	ctx := context.Background()

	client, err := workpool.Dial(target)
	if err != nil {
		log.Fatal(err)
	}
	defer client.Close()

	_, err = client.EnsurePool(ctx, "emails",
		workpool.WithMaxParallelism(5),
		workpool.WithRetryByDefault(true),
		workpool.WithDefaultRetry(workpool.RetryPolicy{MaxAttempts: 3, InitialBackoff: time.Second}))
	if err != nil {
		log.Fatal(err)
	}

	// The worker: usually a process of its own.
	conn, err := workpool.NewConn(target)
	if err != nil {
		log.Fatal(err)
	}
	defer conn.Close()
	worker, err := workpool.NewWorker(conn, []string{"emails"}, workpool.WithCapacity(10))
	if err != nil {
		log.Fatal(err)
	}
	worker.Handle("email.send", func(ctx context.Context, task *workpool.Task) (any, error) {
		var args email
		if err := task.Decode(&args); err != nil {
			return nil, workpool.NonRetryable(err)
		}
		if !strings.Contains(args.To, "@") {
			// Retrying cannot fix a bad address.
			return nil, workpool.NonRetryable(fmt.Errorf("invalid address %q", args.To))
		}
		select {
		case <-time.After(100 * time.Millisecond): // Stands for the call to the mail provider.
		case <-ctx.Done():
			return nil, context.Cause(ctx)
		}
		return map[string]any{"sent_to": args.To, "attempt": task.Attempt}, nil
	})
	worker.HandleFollowUp("email.done", func(ctx context.Context, task *workpool.Task, done *workpool.FollowUp) error {
		fmt.Printf("follow-up: %s %v context=%v\n", done.WorkID, done.Result.Kind, done.Context)
		return nil
	})
	workerCtx, stopWorker := context.WithCancel(ctx)
	workerDone := make(chan error, 1)
	go func() { workerDone <- worker.Run(workerCtx) }()

	// The client: enqueue three items in one batch, with a follow-up each.
	followUp := workpool.WithOnComplete("email.done", map[string]any{"campaign": "welcome"})
	batch, err := client.EnqueueBatch(ctx, "emails", []workpool.WorkItem{
		{Function: "email.send", Args: email{To: "ada@example.com"}, Options: []workpool.EnqueueOption{followUp}},
		{Function: "email.send", Args: email{To: "grace@example.com"}, Options: []workpool.EnqueueOption{followUp}},
		{Function: "email.send", Args: email{To: "nobody"}, Options: []workpool.EnqueueOption{followUp}},
	})
	if err != nil {
		log.Fatal(err)
	}

	// Watching after the batch's completion sequence cannot miss an item
	// that finished before the watch connected.
	pending := map[string]bool{}
	for _, id := range batch.WorkIDs {
		pending[id] = true
	}
	watchCtx, stopWatch := context.WithTimeout(ctx, 30*time.Second)
	defer stopWatch()
	for completion, err := range client.WatchCompletions(watchCtx,
		workpool.WatchWorkIDs(batch.WorkIDs...), workpool.WatchAfter(batch.CompletionSequence)) {
		if err != nil {
			log.Fatal(err)
		}
		fmt.Println(completion.WorkID, completion.Result)
		delete(pending, completion.WorkID)
		if len(pending) == 0 {
			break
		}
	}

	// Graceful stop: Run waits for running handlers (follow-ups included)
	// up to the shutdown grace.
	time.Sleep(200 * time.Millisecond)
	stopWorker()
	if err := <-workerDone; err != nil && !errors.Is(err, context.Canceled) {
		log.Fatal(err)
	}
}
