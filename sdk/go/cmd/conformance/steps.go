package main

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/workpool/workpool/sdk/go/workpool"
)

// enqueueOptions converts the retry, on_complete, run_after_ms and
// scheduling fields of an enqueue step or expect_error request.
func enqueueOptions(s step) ([]workpool.EnqueueOption, error) {
	var opts []workpool.EnqueueOption
	if raw, has := s["retry"]; has && raw != nil {
		switch retry := raw.(type) {
		case bool:
			if retry {
				opts = append(opts, workpool.WithRetry())
			} else {
				opts = append(opts, workpool.WithoutRetry())
			}
		default:
			policy, err := retryPolicy(raw)
			if err != nil {
				return nil, err
			}
			opts = append(opts, workpool.WithRetryPolicy(policy))
		}
	}
	if raw, has := s["on_complete"]; has {
		onComplete, ok := raw.(map[string]any)
		function, _ := onComplete["function"].(string)
		if !ok || function == "" {
			return nil, fmt.Errorf("on_complete must be an object with a function, got %s", describe(raw))
		}
		context, err := expand(onComplete["context"])
		if err != nil {
			return nil, err
		}
		opts = append(opts, workpool.WithOnComplete(function, context))
	}
	if s.has("run_after_ms") {
		ms, err := s.requireInt("run_after_ms")
		if err != nil {
			return nil, err
		}
		opts = append(opts, workpool.WithRunAfter(time.Duration(ms)*time.Millisecond))
	}
	scheduling, err := schedulingOptions(s)
	if err != nil {
		return nil, err
	}
	return append(opts, scheduling...), nil
}

// schedulingOptions converts the concurrency_key, priority and
// attempt_timeout_ms fields of an enqueue or enqueue_batch step.
func schedulingOptions(s step) ([]workpool.EnqueueOption, error) {
	var opts []workpool.EnqueueOption
	if s.has("concurrency_key") {
		key, err := s.requireStr("concurrency_key")
		if err != nil {
			return nil, err
		}
		opts = append(opts, workpool.WithConcurrencyKey(key))
	}
	if s.has("priority") {
		priority, err := s.requireInt("priority")
		if err != nil {
			return nil, err
		}
		opts = append(opts, workpool.WithPriority(priority))
	}
	if s.has("attempt_timeout_ms") {
		ms, err := s.requireInt("attempt_timeout_ms")
		if err != nil {
			return nil, err
		}
		opts = append(opts, workpool.WithAttemptTimeout(time.Duration(ms)*time.Millisecond))
	}
	return opts, nil
}

func (r *scenarioRun) enqueue(s step) error {
	key, err := s.requireStr("key")
	if err != nil {
		return err
	}
	function, err := s.requireStr("function")
	if err != nil {
		return err
	}
	args, err := expand(s["args"])
	if err != nil {
		return err
	}
	opts, err := enqueueOptions(s)
	if err != nil {
		return err
	}
	enqueued, err := r.client.Enqueue(r.ctx, r.pool, function, args, opts...)
	if err != nil {
		return err
	}
	r.remember(key, enqueued.WorkID)
	return nil
}

func (r *scenarioRun) enqueueBatch(s step) error {
	rawKeys, ok := s["keys"].([]any)
	if !ok || len(rawKeys) == 0 {
		return fmt.Errorf("field \"keys\" must be a non-empty list")
	}
	function, err := s.requireStr("function")
	if err != nil {
		return err
	}
	args, err := expand(s["args"])
	if err != nil {
		return err
	}
	opts, err := schedulingOptions(s)
	if err != nil {
		return err
	}
	items := make([]workpool.WorkItem, len(rawKeys))
	for i := range items {
		items[i] = workpool.WorkItem{Function: function, Args: args, Options: opts}
	}
	batch, err := r.client.EnqueueBatch(r.ctx, r.pool, items)
	if err != nil {
		return err
	}
	for i, raw := range rawKeys {
		key, ok := raw.(string)
		if !ok {
			return fmt.Errorf("keys[%d] must be a string", i)
		}
		r.remember(key, batch.WorkIDs[i])
	}
	return nil
}

func (r *scenarioRun) startWorker(s step, handlers map[string]workpool.HandlerFunc) error {
	name, err := s.requireStr("name")
	if err != nil {
		return err
	}
	capacity, err := s.requireInt("capacity")
	if err != nil {
		return err
	}
	if _, exists := r.workers[name]; exists {
		return fmt.Errorf("a worker named %q is already running", name)
	}
	if len(handlers) == 0 {
		return fmt.Errorf("the scenario has no functions for a worker to serve")
	}
	conn, err := newConn(r.server)
	if err != nil {
		return err
	}
	worker, err := workpool.NewWorker(conn, []string{r.pool}, workpool.WithCapacity(capacity),
		workpool.WithWorkerName(r.pool+"/"+name), workpool.WithShutdownGrace(stopGrace))
	if err != nil {
		conn.Close()
		return err
	}
	for function, handler := range handlers {
		worker.Handle(function, handler)
	}
	done := make(chan error, 1)
	go func() { done <- worker.Run(context.Background()) }()
	r.workers[name] = &runningWorker{worker: worker, conn: conn, done: done}
	return nil
}

func (r *scenarioRun) stopWorker(s step) error {
	name, err := s.requireStr("name")
	if err != nil {
		return err
	}
	abrupt, ok := s["abrupt"].(bool)
	if !ok {
		return fmt.Errorf("field \"abrupt\" must be a boolean")
	}
	w, exists := r.workers[name]
	if !exists {
		return fmt.Errorf("no worker named %q is running", name)
	}
	delete(r.workers, name)
	defer w.conn.Close()
	if abrupt {
		w.worker.Abort()
	} else {
		ctx, cancel := context.WithTimeout(r.ctx, stopGrace)
		defer cancel()
		_ = w.worker.Shutdown(ctx)
	}
	if err := <-w.done; err != nil {
		return fmt.Errorf("worker %q: %w", name, err)
	}
	return nil
}

func (r *scenarioRun) release(s step) error {
	key, err := s.requireStr("key")
	if err != nil {
		return err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if !s.has("attempt") {
		r.releasedKeys[key] = true
		return nil
	}
	attempt, err := s.requireInt("attempt")
	if err != nil {
		return err
	}
	if r.releasedAttempts[key] == nil {
		r.releasedAttempts[key] = map[int]bool{}
	}
	r.releasedAttempts[key][attempt] = true
	return nil
}

var cancelOutcomes = map[string]workpool.CancelOutcome{
	"canceled":         workpool.Canceled,
	"cancel_requested": workpool.CancelRequested,
	"already_finished": workpool.AlreadyFinished,
	"not_found":        workpool.CancelNotFound,
}

func (r *scenarioRun) cancel(s step) error {
	key, err := s.requireStr("key")
	if err != nil {
		return err
	}
	expected, ok := cancelOutcomes[s.str("expect")]
	if !ok {
		return fmt.Errorf("unknown cancel outcome %s", describe(s["expect"]))
	}
	id, err := r.idOf(key)
	if err != nil {
		return err
	}
	outcome, err := r.client.Cancel(r.ctx, id)
	if err != nil {
		return err
	}
	if outcome != expected {
		return fmt.Errorf("cancel of %q returned %v, expected %v", key, outcome, expected)
	}
	return nil
}

var states = map[string]workpool.WorkState{
	"pending":  workpool.StatePending,
	"running":  workpool.StateRunning,
	"finished": workpool.StateFinished,
}

var resultKinds = map[string]workpool.ResultKind{
	"success":  workpool.ResultSuccess,
	"failure":  workpool.ResultFailure,
	"canceled": workpool.ResultCanceled,
}

func (r *scenarioRun) checkStatus(s step) error {
	key, err := s.requireStr("key")
	if err != nil {
		return invalid("%v", err)
	}
	state, ok := states[s.str("state")]
	if !ok {
		return invalid("unknown state %s", describe(s["state"]))
	}
	id, err := r.idOf(key)
	if err != nil {
		return err
	}
	status, err := r.client.Status(r.ctx, id)
	if err != nil {
		return err
	}
	if status.State != state {
		return fmt.Errorf("%q is %v (previous attempts %d), expected %v", key, status.State, status.PreviousAttempts, state)
	}
	if s.has("previous_attempts") {
		want, err := s.requireInt("previous_attempts")
		if err != nil {
			return invalid("%v", err)
		}
		if status.PreviousAttempts != want {
			return fmt.Errorf("%q is %v with %d previous attempts, expected %d", key, status.State, status.PreviousAttempts, want)
		}
	}
	if err := checkSchedulingFields(key, status, s); err != nil {
		return err
	}
	if s.has("result") || s.has("return_value") || s.has("error_contains") {
		if status.Result == nil {
			return fmt.Errorf("%q has no result", key)
		}
	}
	if s.has("result") {
		kind, ok := resultKinds[s.str("result")]
		if !ok {
			return invalid("unknown result %s", describe(s["result"]))
		}
		if status.Result.Kind != kind {
			return fmt.Errorf("%q ended %v, expected %v", key, status.Result, kind)
		}
	}
	if s.has("return_value") {
		expected, err := expand(s["return_value"])
		if err != nil {
			return invalid("%v", err)
		}
		if diff := difference(status.Result.ReturnValue, expected, "return_value"); diff != "" {
			return fmt.Errorf("%q: %s", key, diff)
		}
	}
	if s.has("error_contains") {
		part := s.str("error_contains")
		if !strings.Contains(status.Result.Error, part) {
			return fmt.Errorf("%q failed with %q, expected it to contain %q", key, status.Result.Error, part)
		}
	}
	return nil
}

// checkSchedulingFields compares the concurrency_key, priority and
// continuations fields of an expect_status step with the status.
func checkSchedulingFields(key string, status *workpool.WorkStatus, s step) error {
	if s.has("concurrency_key") && status.ConcurrencyKey != s.str("concurrency_key") {
		return fmt.Errorf("%q has concurrency key %q, expected %s", key, status.ConcurrencyKey, describe(s["concurrency_key"]))
	}
	for _, field := range []struct {
		name   string
		actual int
	}{{"priority", status.Priority}, {"continuations", status.Continuations}} {
		if !s.has(field.name) {
			continue
		}
		expected, err := s.requireInt(field.name)
		if err != nil {
			return invalid("%v", err)
		}
		if field.actual != expected {
			return fmt.Errorf("%q has %s %d, expected %d", key, field.name, field.actual, expected)
		}
	}
	return nil
}

func (r *scenarioRun) checkFollowUp(s step) error {
	key, err := s.requireStr("key")
	if err != nil {
		return invalid("%v", err)
	}
	kind := s.str("result")
	if _, ok := resultKinds[kind]; !ok {
		return invalid("unknown result %s", describe(s["result"]))
	}
	id, err := r.idOf(key)
	if err != nil {
		return err
	}
	r.mu.Lock()
	var matching []map[string]any
	for _, args := range r.followUps {
		if args["work_id"] == id {
			matching = append(matching, args)
		}
	}
	r.mu.Unlock()
	if len(matching) != 1 {
		return fmt.Errorf("the follow-up of %q ran %d times, expected once", key, len(matching))
	}
	args := matching[0]
	result, _ := args["result"].(map[string]any)
	if result["kind"] != kind {
		return fmt.Errorf("the follow-up of %q got result %s, expected kind %q", key, describe(result), kind)
	}
	if s.has("context") {
		expected, err := expand(s["context"])
		if err != nil {
			return invalid("%v", err)
		}
		if diff := difference(args["context"], expected, "context"); diff != "" {
			return fmt.Errorf("follow-up of %q: %s", key, diff)
		}
	}
	if s.has("return_value") {
		expected, err := expand(s["return_value"])
		if err != nil {
			return invalid("%v", err)
		}
		if diff := difference(result["return_value"], expected, "result.return_value"); diff != "" {
			return fmt.Errorf("follow-up of %q: %s", key, diff)
		}
	}
	return nil
}

func (r *scenarioRun) checkError(s step) error {
	request, ok := s["request"].(map[string]any)
	if !ok {
		return fmt.Errorf("field \"request\" must be an object")
	}
	wantCode, err := s.requireStr("code")
	if err != nil {
		return err
	}
	var callErr error
	switch call := s.str("call"); call {
	case "enqueue":
		function, _ := request["function"].(string)
		args, err := expand(request["args"])
		if err != nil {
			return err
		}
		opts, err := enqueueOptions(step(request))
		if err != nil {
			return err
		}
		_, callErr = r.client.Enqueue(r.ctx, r.pool, function, args, opts...)
	case "status":
		workID, _ := request["work_id"].(string)
		_, callErr = r.client.Status(r.ctx, workID)
	default:
		return fmt.Errorf("unknown call %q", call)
	}
	if callErr == nil {
		return fmt.Errorf("the call succeeded, expected %s", wantCode)
	}
	if got := workpool.CodeName(workpool.Code(callErr)); got != wantCode {
		return fmt.Errorf("the call failed with %s (%v), expected %s", got, callErr, wantCode)
	}
	if field := s.str("field"); field != "" {
		var wpErr *workpool.Error
		if !errors.As(callErr, &wpErr) || !wpErr.HasViolation(field) {
			return fmt.Errorf("the error %v names no field violation %q", callErr, field)
		}
	}
	return nil
}
