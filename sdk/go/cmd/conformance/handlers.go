package main

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/workpool/workpool/sdk/go/workpool"
)

// buildHandlers returns a handler per scenario function, each wrapped to
// record its runs.
func (r *scenarioRun) buildHandlers() (map[string]workpool.HandlerFunc, error) {
	handlers := map[string]workpool.HandlerFunc{}
	for name, spec := range r.sc.Functions {
		handler, err := r.behaviour(name, step(spec))
		if err != nil {
			return nil, err
		}
		handlers[name] = r.recorded(handler)
	}
	return handlers, nil
}

func (r *scenarioRun) behaviour(name string, spec step) (workpool.HandlerFunc, error) {
	message := "boom"
	if spec.has("error") {
		message = spec.str("error")
	}
	failures := 0
	if spec.has("failures") {
		n, err := spec.requireInt("failures")
		if err != nil {
			return nil, fmt.Errorf("function %q: %w", name, err)
		}
		failures = n
	}

	switch spec.str("type") {
	case "echo":
		return func(_ context.Context, task *workpool.Task) (any, error) { return task.Args, nil }, nil
	case "fail":
		return func(context.Context, *workpool.Task) (any, error) { return nil, errors.New(message) }, nil
	case "fail_then_succeed":
		return func(_ context.Context, task *workpool.Task) (any, error) {
			if task.Attempt <= failures {
				return nil, errors.New(message)
			}
			return task.Args, nil
		}, nil
	case "non_retryable":
		return func(context.Context, *workpool.Task) (any, error) {
			return nil, workpool.NonRetryable(errors.New(message))
		}, nil
	case "block":
		return func(ctx context.Context, task *workpool.Task) (any, error) {
			if err := r.waitForRelease(ctx, task); err != nil {
				return nil, err
			}
			if task.Attempt <= failures {
				return nil, errors.New(message)
			}
			return task.Args, nil
		}, nil
	case "wait_for_cancel":
		then := spec.str("then")
		if then != "succeed" && then != "fail" {
			return nil, fmt.Errorf("function %q: field \"then\" must be \"succeed\" or \"fail\", got %s", name, describe(spec["then"]))
		}
		return func(ctx context.Context, _ *workpool.Task) (any, error) {
			<-ctx.Done()
			if then == "succeed" {
				return map[string]any{"finished": "after cancel"}, nil
			}
			return nil, errors.New("stopped after cancel")
		}, nil
	case "continue":
		times, err := spec.requireInt("times")
		if err != nil {
			return nil, fmt.Errorf("function %q: %w", name, err)
		}
		return func(_ context.Context, task *workpool.Task) (any, error) {
			// Continues with {round: n + 1} until round reaches times.
			round := 0
			if args, ok := task.Args.(map[string]any); ok {
				if value, ok := args["round"].(float64); ok {
					round = int(value)
				}
			}
			if round < times {
				return workpool.Continue{Args: map[string]any{"round": round + 1}}, nil
			}
			return task.Args, nil
		}, nil
	case "record":
		return func(_ context.Context, task *workpool.Task) (any, error) {
			if args, ok := task.Args.(map[string]any); ok {
				r.mu.Lock()
				r.followUps = append(r.followUps, args)
				r.mu.Unlock()
			}
			return task.Args, nil
		}, nil
	}
	return nil, fmt.Errorf("function %q has the unknown type %s", name, describe(spec["type"]))
}

// waitForRelease blocks until a release step names the task's item, for
// every attempt or for this one, or until the attempt's context is canceled.
func (r *scenarioRun) waitForRelease(ctx context.Context, task *workpool.Task) error {
	ticker := time.NewTicker(5 * time.Millisecond)
	defer ticker.Stop()
	for {
		r.mu.Lock()
		key, known := r.keys[task.WorkID]
		released := known && (r.releasedKeys[key] || r.releasedAttempts[key][task.Attempt])
		r.mu.Unlock()
		if released {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("stopped before release: %w", context.Cause(ctx))
		case <-ticker.C:
		}
	}
}

// recorded wraps a handler to log its start and end by work id.
func (r *scenarioRun) recorded(handler workpool.HandlerFunc) workpool.HandlerFunc {
	return func(ctx context.Context, task *workpool.Task) (any, error) {
		r.mu.Lock()
		r.ticks++
		run := &interval{workID: task.WorkID, start: r.ticks}
		r.intervals = append(r.intervals, run)
		if r.runs[task.WorkID] == 0 {
			r.firstStarts = append(r.firstStarts, task.WorkID)
		}
		r.runs[task.WorkID]++
		r.mu.Unlock()

		defer func() {
			r.mu.Lock()
			r.ticks++
			run.end = r.ticks
			r.mu.Unlock()
		}()
		return handler(ctx, task)
	}
}
