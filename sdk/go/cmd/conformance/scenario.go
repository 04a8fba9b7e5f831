package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	"google.golang.org/grpc"

	"github.com/workpool/workpool/sdk/go/workpool"
)

// How long an expect_* step keeps checking before it fails, and how often.
const (
	expectTimeout = 10 * time.Second
	pollInterval  = 20 * time.Millisecond
	// stopGrace bounds a graceful stop_worker: blocked handlers never finish
	// on their own.
	stopGrace = 5 * time.Second
)

type scenario struct {
	Name        string                    `json:"name"`
	Description string                    `json:"description"`
	Pool        map[string]any            `json:"pool"`
	Functions   map[string]map[string]any `json:"functions"`
	Steps       []step                    `json:"steps"`
}

// step is one step object; its fields depend on its op.
type step map[string]any

func (s step) op() string { return s.str("op") }

func (s step) has(name string) bool {
	_, ok := s[name]
	return ok
}

func (s step) str(name string) string {
	text, _ := s[name].(string)
	return text
}

func (s step) requireStr(name string) (string, error) {
	text, ok := s[name].(string)
	if !ok || text == "" {
		return "", fmt.Errorf("field %q must be a non-empty string, got %s", name, describe(s[name]))
	}
	return text, nil
}

func (s step) requireInt(name string) (int, error) {
	return intField(s[name], name)
}

func intField(v any, name string) (int, error) {
	number, ok := v.(float64)
	if !ok || number != float64(int(number)) {
		return 0, fmt.Errorf("field %q must be an integer, got %s", name, describe(v))
	}
	return int(number), nil
}

// interval is one handler run, in ticks of the run's event counter; end is
// 0 while the handler runs.
type interval struct {
	workID     string
	start, end int64
}

type runningWorker struct {
	worker *workpool.Worker
	conn   *grpc.ClientConn
	done   chan error
}

type watchState struct {
	cancel context.CancelFunc
	done   chan struct{}
	// seen lists what the subscription delivered over its start and resumes.
	seen []*workpool.Completion
	err  error
}

// scenarioRun is the state of one scenario: its pool, workers,
// subscriptions and the log of its handlers.
type scenarioRun struct {
	ctx    context.Context
	server string
	sc     *scenario
	pool   string
	client *workpool.Client

	mu               sync.Mutex
	ids              map[string]string // key -> work id
	keys             map[string]string // work id -> key
	runs             map[string]int    // work id -> handler runs
	firstStarts      []string          // work ids in order of first start
	intervals        []*interval
	ticks            int64
	followUps        []map[string]any
	releasedKeys     map[string]bool
	releasedAttempts map[string]map[int]bool

	workers map[string]*runningWorker
	watches map[string]*watchState
}

func runScenario(ctx context.Context, server string, sc *scenario) error {
	client, err := dial(server)
	if err != nil {
		return err
	}
	defer client.Close()

	run := &scenarioRun{
		ctx:              ctx,
		server:           server,
		sc:               sc,
		pool:             sc.Name + "-" + randomSuffix(),
		client:           client,
		ids:              map[string]string{},
		keys:             map[string]string{},
		runs:             map[string]int{},
		releasedKeys:     map[string]bool{},
		releasedAttempts: map[string]map[int]bool{},
		workers:          map[string]*runningWorker{},
		watches:          map[string]*watchState{},
	}
	defer run.tearDown()

	handlers, err := run.buildHandlers()
	if err != nil {
		return err
	}
	if err := run.createPool(); err != nil {
		return fmt.Errorf("create pool: %w", err)
	}
	for index, s := range sc.Steps {
		if err := run.runStep(s, handlers); err != nil {
			return fmt.Errorf("step %d (%s): %w", index, s.op(), err)
		}
	}
	return nil
}

func randomSuffix() string {
	buffer := make([]byte, 4)
	_, _ = rand.Read(buffer)
	return hex.EncodeToString(buffer)
}

func (r *scenarioRun) createPool() error {
	var opts []workpool.PoolOption
	for _, name := range keys(r.sc.Pool) {
		value := r.sc.Pool[name]
		switch name {
		case "max_parallelism":
			n, err := intField(value, name)
			if err != nil {
				return err
			}
			opts = append(opts, workpool.WithMaxParallelism(n))
		case "retry_by_default":
			retry, ok := value.(bool)
			if !ok {
				return fmt.Errorf("pool field retry_by_default must be a boolean, got %s", describe(value))
			}
			opts = append(opts, workpool.WithRetryByDefault(retry))
		case "default_retry":
			policy, err := retryPolicy(value)
			if err != nil {
				return err
			}
			opts = append(opts, workpool.WithDefaultRetry(policy))
		case "max_per_key":
			n, err := intField(value, name)
			if err != nil {
				return err
			}
			opts = append(opts, workpool.WithMaxPerKey(n))
		case "priority_aging_ms":
			ms, err := intField(value, name)
			if err != nil {
				return err
			}
			opts = append(opts, workpool.WithPriorityAging(time.Duration(ms)*time.Millisecond))
		case "default_attempt_timeout_ms":
			ms, err := intField(value, name)
			if err != nil {
				return err
			}
			opts = append(opts, workpool.WithDefaultAttemptTimeout(time.Duration(ms)*time.Millisecond))
		default:
			return fmt.Errorf("unknown pool field %q", name)
		}
	}
	_, err := r.client.CreatePool(r.ctx, r.pool, opts...)
	return err
}

// retryPolicy converts a scenario policy; absent fields take the defaults
// that the README names (5 attempts, 250 ms, base 2, no cap).
func retryPolicy(v any) (workpool.RetryPolicy, error) {
	raw, ok := v.(map[string]any)
	if !ok {
		return workpool.RetryPolicy{}, fmt.Errorf("retry policy must be an object, got %s", describe(v))
	}
	policy := workpool.RetryPolicy{MaxAttempts: 5, InitialBackoff: 250 * time.Millisecond, Base: 2}
	for _, name := range keys(raw) {
		value := raw[name]
		switch name {
		case "max_attempts":
			n, err := intField(value, name)
			if err != nil {
				return policy, err
			}
			policy.MaxAttempts = n
		case "initial_backoff_ms", "max_backoff_ms":
			ms, err := intField(value, name)
			if err != nil {
				return policy, err
			}
			d := time.Duration(ms) * time.Millisecond
			if name == "initial_backoff_ms" {
				policy.InitialBackoff = d
			} else {
				policy.MaxBackoff = d
			}
		case "base":
			base, ok := value.(float64)
			if !ok {
				return policy, fmt.Errorf("field base must be a number, got %s", describe(value))
			}
			policy.Base = base
		default:
			return policy, fmt.Errorf("unknown retry policy field %q", name)
		}
	}
	return policy, nil
}

func (r *scenarioRun) tearDown() {
	for _, w := range r.workers {
		w.worker.Abort()
		<-w.done
		w.conn.Close()
	}
	for _, w := range r.watches {
		if w.cancel != nil {
			w.cancel()
			<-w.done
		}
	}
}

func (r *scenarioRun) runStep(s step, handlers map[string]workpool.HandlerFunc) error {
	switch s.op() {
	case "enqueue":
		return r.enqueue(s)
	case "enqueue_batch":
		return r.enqueueBatch(s)
	case "start_worker":
		return r.startWorker(s, handlers)
	case "stop_worker":
		return r.stopWorker(s)
	case "release":
		return r.release(s)
	case "update_pool":
		n, err := s.requireInt("max_parallelism")
		if err != nil {
			return err
		}
		_, err = r.client.UpdatePool(r.ctx, r.pool, workpool.WithMaxParallelism(n))
		return err
	case "cancel":
		return r.cancel(s)
	case "expect_status":
		return r.eventually(func() error { return r.checkStatus(s) })
	case "expect_running":
		return r.expectCount(s, "count", func() int { return r.runningNow() }, "handlers running")
	case "expect_max_concurrent":
		max, err := s.requireInt("max")
		if err != nil {
			return err
		}
		return r.eventually(func() error {
			if got := r.maxConcurrent(); got > max {
				return fmt.Errorf("%d handlers ran at once, expected at most %d", got, max)
			}
			return nil
		})
	case "expect_started_order":
		return r.eventually(func() error { return r.checkStartedOrder(s) })
	case "expect_attempts":
		return r.eventually(func() error { return r.checkAttempts(s) })
	case "expect_follow_up":
		return r.eventually(func() error { return r.checkFollowUp(s) })
	case "expect_error":
		return r.checkError(s)
	case "watch_start":
		return r.watchStart(s, false)
	case "watch_stop":
		return r.watchStop(s)
	case "watch_resume":
		return r.watchStart(s, true)
	case "expect_watch":
		return r.eventually(func() error { return r.checkWatch(s) })
	case "sleep_ms":
		ms, err := s.requireInt("ms")
		if err != nil {
			return err
		}
		time.Sleep(time.Duration(ms) * time.Millisecond)
		return nil
	}
	return fmt.Errorf("unknown op %q", s.op())
}

// eventually checks repeatedly until check holds or expectTimeout passes.
func (r *scenarioRun) eventually(check func() error) error {
	deadline := time.Now().Add(expectTimeout)
	for {
		err := check()
		if err == nil {
			return nil
		}
		if errors.Is(err, errInvalidStep) || time.Now().After(deadline) {
			return err
		}
		select {
		case <-r.ctx.Done():
			return r.ctx.Err()
		case <-time.After(pollInterval):
		}
	}
}

// errInvalidStep marks a step that can never hold, such as one naming an
// unknown key, so eventually does not wait for it.
var errInvalidStep = errors.New("invalid step")

func invalid(format string, args ...any) error {
	return fmt.Errorf("%w: %s", errInvalidStep, fmt.Sprintf(format, args...))
}

func (r *scenarioRun) idOf(key string) (string, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	id, ok := r.ids[key]
	if !ok {
		return "", invalid("no item was enqueued under the key %q", key)
	}
	return id, nil
}

func (r *scenarioRun) remember(key, id string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.ids[key] = id
	r.keys[id] = key
}

func (r *scenarioRun) expectCount(s step, field string, count func() int, what string) error {
	want, err := s.requireInt(field)
	if err != nil {
		return err
	}
	return r.eventually(func() error {
		if got := count(); got != want {
			return fmt.Errorf("%d %s, expected %d", got, what, want)
		}
		return nil
	})
}

// startedKeys returns the keys of step-enqueued items in order of first start.
func (r *scenarioRun) startedKeys() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var started []string
	for _, id := range r.firstStarts {
		if key, ok := r.keys[id]; ok {
			started = append(started, key)
		}
	}
	return started
}

func (r *scenarioRun) runningNow() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	count := 0
	for _, run := range r.intervals {
		if _, counted := r.keys[run.workID]; counted && run.end == 0 {
			count++
		}
	}
	return count
}

// maxConcurrent returns the largest number of handlers of step-enqueued
// items that ran at once.
func (r *scenarioRun) maxConcurrent() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	type event struct {
		tick  int64
		delta int
	}
	var events []event
	for _, run := range r.intervals {
		if _, counted := r.keys[run.workID]; !counted {
			continue
		}
		events = append(events, event{run.start, 1})
		if run.end != 0 {
			events = append(events, event{run.end, -1})
		}
	}
	sort.Slice(events, func(i, j int) bool { return events[i].tick < events[j].tick })
	now, max := 0, 0
	for _, e := range events {
		now += e.delta
		if now > max {
			max = now
		}
	}
	return max
}

func (r *scenarioRun) checkStartedOrder(s step) error {
	raw, ok := s["keys"].([]any)
	if !ok {
		return invalid("field \"keys\" must be a list")
	}
	started := r.startedKeys()
	for i, key := range raw {
		if i >= len(started) || started[i] != key {
			return fmt.Errorf("first starts were %v, expected them to begin with %v", started, raw)
		}
	}
	return nil
}

func (r *scenarioRun) checkAttempts(s step) error {
	key, err := s.requireStr("key")
	if err != nil {
		return invalid("%v", err)
	}
	want, err := s.requireInt("count")
	if err != nil {
		return invalid("%v", err)
	}
	id, err := r.idOf(key)
	if err != nil {
		return err
	}
	r.mu.Lock()
	got := r.runs[id]
	r.mu.Unlock()
	if got != want {
		return fmt.Errorf("the handler ran %d times for %q, expected %d", got, key, want)
	}
	return nil
}

func joinQuoted(items []string) string {
	quoted := make([]string, len(items))
	for i, item := range items {
		quoted[i] = fmt.Sprintf("%q", item)
	}
	return "[" + strings.Join(quoted, ", ") + "]"
}
