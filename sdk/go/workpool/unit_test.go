package workpool

import (
	"context"
	"errors"
	"math"
	"slices"
	"strings"
	"testing"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/structpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	pb "github.com/workpool/workpool/sdk/go/gen/workpool/v1"
)

func TestToValueRoundTrip(t *testing.T) {
	type payload struct {
		Name string `json:"name"`
		Tags []int  `json:"tags"`
	}
	cases := []struct {
		name string
		in   any
		want any
	}{
		{"nil", nil, nil},
		{"int", 3, 3.0},
		{"max exact int", int64(MaxExactInt), float64(MaxExactInt)},
		{"float", 2.5, 2.5},
		{"string", "ü✓", "ü✓"},
		{"bool", true, true},
		{"map", map[string]any{"a": []any{1, "x", nil}}, map[string]any{"a": []any{1.0, "x", nil}}},
		{"typed slice", []string{"a", "b"}, []any{"a", "b"}},
		{"typed map", map[string]int{"n": 4}, map[string]any{"n": 4.0}},
		{"struct", payload{Name: "ada", Tags: []int{1}}, map[string]any{"name": "ada", "tags": []any{1.0}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			value, err := ToValue(tc.in)
			if err != nil {
				t.Fatal(err)
			}
			got := FromValue(value)
			gotValue, _ := structpb.NewValue(got)
			wantValue, _ := structpb.NewValue(tc.want)
			if gotValue.String() != wantValue.String() {
				t.Errorf("round trip of %v = %#v, want %#v", tc.in, got, tc.want)
			}
		})
	}
}

func TestToValueRejectsBadNumbers(t *testing.T) {
	cases := map[string]any{
		"int above 2**53":    map[string]any{"id": int64(MaxExactInt + 1)},
		"uint above 2**53":   []any{uint64(math.MaxUint64)},
		"NaN":                math.NaN(),
		"infinity in struct": struct{ X float64 }{math.Inf(1)},
		"channel":            make(chan int),
	}
	for name, in := range cases {
		if _, err := ToValue(in); err == nil {
			t.Errorf("%s: ToValue accepted %v", name, in)
		}
	}
	_, err := ToValue(map[string]any{"ids": []any{1, int64(1) << 60}})
	if err == nil || !strings.Contains(err.Error(), `value["ids"][1]`) {
		t.Errorf("error %v should name the path value[\"ids\"][1]", err)
	}
}

func TestDecodeValueIntoStruct(t *testing.T) {
	value, err := ToValue(map[string]any{"to": "ada@example.com", "count": 3})
	if err != nil {
		t.Fatal(err)
	}
	var dst struct {
		To    string `json:"to"`
		Count int    `json:"count"`
	}
	if err := DecodeValue(value, &dst); err != nil {
		t.Fatal(err)
	}
	if dst.To != "ada@example.com" || dst.Count != 3 {
		t.Errorf("decoded %+v", dst)
	}
}

func TestFromRPCMapsCodesAndViolations(t *testing.T) {
	st, err := status.New(codes.InvalidArgument, "work.args is too large").WithDetails(&errdetails.BadRequest{
		FieldViolations: []*errdetails.BadRequest_FieldViolation{
			{Field: "work.args", Description: "is too large"},
			{Field: "work.function", Description: "must not be empty"},
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	mapped := fromRPC(st.Err())
	var wpErr *Error
	if !errors.As(mapped, &wpErr) {
		t.Fatalf("fromRPC returned %T", mapped)
	}
	if !errors.Is(mapped, ErrInvalidArgument) || errors.Is(mapped, ErrNotFound) {
		t.Errorf("errors.Is does not match the code of %v", mapped)
	}
	if len(wpErr.Violations) != 2 || !wpErr.HasViolation("work.function") {
		t.Errorf("violations = %+v", wpErr.Violations)
	}
	if text := mapped.Error(); !strings.Contains(text, "INVALID_ARGUMENT") || !strings.Contains(text, "work.function: must not be empty") || strings.Contains(text, "work.args: is too large") {
		t.Errorf("message %q should add only the violation the status message leaves out", text)
	}
	if status.Code(mapped) != codes.InvalidArgument {
		t.Errorf("status.Code of the mapped error = %v", status.Code(mapped))
	}

	for code, sentinel := range map[codes.Code]error{
		codes.NotFound: ErrNotFound, codes.Unknown: ErrInternal, codes.DataLoss: ErrInternal,
		codes.Unavailable: ErrUnavailable, codes.OutOfRange: ErrOutOfRange,
	} {
		if err := fromRPC(status.Error(code, "x")); !errors.Is(err, sentinel) {
			t.Errorf("code %v mapped to %v, want %v", code, err, sentinel)
		}
	}
	if fromRPC(nil) != nil {
		t.Error("fromRPC(nil) is not nil")
	}
}

func TestNonRetryableWraps(t *testing.T) {
	base := errors.New("card declined")
	err := NonRetryable(base)
	if !IsNonRetryable(err) || !errors.Is(err, base) || err.Error() != "card declined" {
		t.Errorf("NonRetryable(%v) = %v", base, err)
	}
	if IsNonRetryable(base) || NonRetryable(nil) != nil {
		t.Error("plain errors and nil must not be non-retryable")
	}
}

func TestWorkSpecOptions(t *testing.T) {
	spec, err := workSpec("email.send", map[string]any{"to": "a"}, []EnqueueOption{
		WithRetryPolicy(RetryPolicy{MaxAttempts: 4, InitialBackoff: time.Second}),
		WithOnComplete("email.done", "ctx"),
		WithRunAfter(time.Minute),
		WithIdempotencyKey("k"),
	}, "work")
	if err != nil {
		t.Fatal(err)
	}
	policy := spec.GetRetryPolicy()
	if policy.GetMaxAttempts() != 4 || policy.GetInitialBackoff().AsDuration() != time.Second || policy.Base != nil {
		t.Errorf("retry policy = %v", policy)
	}
	if spec.GetOnComplete().GetFunction() != "email.done" || spec.GetRunAfter().AsDuration() != time.Minute || spec.GetIdempotencyKey() != "k" {
		t.Errorf("spec = %v", spec)
	}

	spec, err = workSpec("f", nil, []EnqueueOption{WithoutRetry()}, "work")
	if err != nil || spec.GetRetry().(*pb.WorkSpec_RetryEnabled).RetryEnabled {
		t.Errorf("WithoutRetry gave %v, %v", spec, err)
	}

	_, err = workSpec("f", nil, []EnqueueOption{WithRetryPolicy(RetryPolicy{MaxAttempts: 0})}, "work[2]")
	var wpErr *Error
	if !errors.As(err, &wpErr) || !wpErr.HasViolation("work[2].retry_policy.max_attempts") {
		t.Errorf("max attempts 0 gave %v, want a violation naming work[2].retry_policy.max_attempts", err)
	}
	_, err = workSpec("f", nil, []EnqueueOption{WithRunAt(time.Now()), WithRunAfter(time.Second)}, "work")
	if !errors.Is(err, ErrInvalidArgument) {
		t.Errorf("run at and run after together gave %v", err)
	}
	if _, err := workSpec("", nil, nil, "work"); !errors.Is(err, ErrInvalidArgument) {
		t.Errorf("empty function gave %v", err)
	}
}

func TestUpdatePoolMaskListsGivenSettings(t *testing.T) {
	request, err := updatePoolRequest("p", collectPool([]PoolOption{WithKeepStatusForever(false), WithMaxParallelism(0)}))
	if err != nil {
		t.Fatal(err)
	}
	paths := request.GetUpdateMask().GetPaths()
	if len(paths) != 2 || paths[0] != "max_parallelism" || paths[1] != "keep_status_forever" {
		t.Errorf("mask = %v", paths)
	}
	if request.GetPool().MaxParallelism == nil || request.GetPool().GetMaxParallelism() != 0 {
		t.Errorf("max parallelism 0 must be sent explicitly, got %v", request.GetPool())
	}
}

func TestPoolDiffersComparesWithDefaults(t *testing.T) {
	current := &Pool{MaxParallelism: 3, DefaultRetry: RetryPolicy{MaxAttempts: 4, InitialBackoff: defaultInitialBackoff, Base: defaultBackoffBase}}
	_, differs := poolDiffers(current, collectPool([]PoolOption{WithMaxParallelism(3), WithDefaultRetry(RetryPolicy{MaxAttempts: 4})}))
	if differs {
		t.Error("a policy that only leaves defaults unset should equal the server's filled-in policy")
	}
	changed, differs := poolDiffers(current, collectPool([]PoolOption{WithMaxParallelism(5)}))
	if !differs || changed.maxParallelism == nil || *changed.maxParallelism != 5 {
		t.Errorf("changed = %+v, %v", changed, differs)
	}
}

func TestWatchCursorSkipsRepeats(t *testing.T) {
	cursor := &watchCursor{}
	first := cursor.accept(&pb.WatchCompletionsResponse{HeadSequence: 10})
	if len(first) != 0 || !cursor.hasLast || cursor.last != 10 {
		t.Fatalf("first message: %v, cursor %+v", first, cursor)
	}
	if after := cursor.request().GetAfterSequence(); after != 10 {
		t.Errorf("resume request after %d, want 10", after)
	}
	got := cursor.accept(&pb.WatchCompletionsResponse{Completions: []*pb.Completion{{Sequence: 9}, {Sequence: 11}, {Sequence: 12}}})
	if len(got) != 2 || got[0].Sequence != 11 || cursor.last != 12 {
		t.Errorf("accepted %v, cursor %+v", got, cursor)
	}
	replay := cursor.accept(&pb.WatchCompletionsResponse{Completions: []*pb.Completion{{Sequence: 12}, {Sequence: 13}}})
	if len(replay) != 1 || replay[0].Sequence != 13 {
		t.Errorf("a replay after reconnect delivered %v, want only 13", replay)
	}
}

func TestBackoffGrowsAndCaps(t *testing.T) {
	b := newBackoff(100*time.Millisecond, time.Second)
	b.random = func() float64 { return 0.5 }
	want := []time.Duration{100 * time.Millisecond, 200 * time.Millisecond, 400 * time.Millisecond, 800 * time.Millisecond, time.Second, time.Second}
	for i, w := range want {
		if got := b.next(); got != w {
			t.Errorf("delay %d = %v, want %v", i, got, w)
		}
	}
	b.reset()
	if got := b.next(); got != 100*time.Millisecond {
		t.Errorf("delay after reset = %v", got)
	}
}

func TestParseFollowUp(t *testing.T) {
	args, _ := ToValue(map[string]any{
		"work_id": "wk_1", "context": map[string]any{"c": 1},
		"result": map[string]any{"kind": "success", "return_value": "ok"},
	})
	followUp, err := ParseFollowUp(args)
	if err != nil {
		t.Fatal(err)
	}
	if followUp.WorkID != "wk_1" || followUp.Result.Kind != ResultSuccess || followUp.Result.ReturnValue != "ok" {
		t.Errorf("follow-up = %+v", followUp)
	}
	bad, _ := ToValue(map[string]any{"work_id": "wk_1", "result": map[string]any{"kind": "other"}})
	if _, err := ParseFollowUp(bad); err == nil {
		t.Error("an unknown result kind must fail")
	}
}

func TestCallHandlerOutcomes(t *testing.T) {
	task := &Task{WorkID: "wk_1", Attempt: 2, Function: "f"}
	result := callHandler(t.Context(), func(_ context.Context, _ *Task) (any, error) { return map[string]any{"n": 1}, nil }, task)
	if result.GetSuccess() == nil || result.GetAttempt() != 2 {
		t.Errorf("success result = %v", result)
	}
	result = callHandler(t.Context(), func(_ context.Context, _ *Task) (any, error) { return nil, NonRetryable(errors.New("no")) }, task)
	if !result.GetFailure().GetNonRetryable() || result.GetFailure().GetError() != "no" {
		t.Errorf("non-retryable result = %v", result)
	}
	result = callHandler(t.Context(), func(_ context.Context, _ *Task) (any, error) { return math.NaN(), nil }, task)
	if !result.GetFailure().GetNonRetryable() {
		t.Errorf("a return value that cannot be sent should fail without retry, got %v", result)
	}
	result = callHandler(t.Context(), nil, task)
	if !result.GetFailure().GetNonRetryable() {
		t.Errorf("a missing handler should fail without retry, got %v", result)
	}
}

func TestWorkSpecSchedulingOptions(t *testing.T) {
	spec, err := workSpec("f", nil, []EnqueueOption{
		WithConcurrencyKey("tenant-7"),
		WithPriority(-3),
		WithAttemptTimeout(1500 * time.Millisecond),
	}, "work")
	if err != nil {
		t.Fatal(err)
	}
	if spec.GetConcurrencyKey() != "tenant-7" {
		t.Errorf("concurrency key = %q", spec.GetConcurrencyKey())
	}
	if spec.GetPriority() != -3 {
		t.Errorf("priority = %d", spec.GetPriority())
	}
	if spec.GetAttemptTimeout().AsDuration() != 1500*time.Millisecond {
		t.Errorf("attempt timeout = %v", spec.GetAttemptTimeout())
	}

	plain, err := workSpec("f", nil, nil, "work")
	if err != nil {
		t.Fatal(err)
	}
	if plain.GetAttemptTimeout() != nil {
		t.Errorf("an item without WithAttemptTimeout sent %v", plain.GetAttemptTimeout())
	}

	_, err = workSpec("f", nil, []EnqueueOption{WithAttemptTimeout(-time.Second)}, "work[1]")
	var wpErr *Error
	if !errors.As(err, &wpErr) || !wpErr.HasViolation("work[1].attempt_timeout") {
		t.Errorf("negative attempt timeout gave %v, want a violation naming work[1].attempt_timeout", err)
	}
	_, err = workSpec("f", nil, []EnqueueOption{WithPriority(math.MaxInt32 + 1)}, "work")
	if !errors.As(err, &wpErr) || !wpErr.HasViolation("work.priority") {
		t.Errorf("priority beyond int32 gave %v, want a violation naming work.priority", err)
	}
}

func TestUpdatePoolSchedulingSettings(t *testing.T) {
	request, err := updatePoolRequest("p", collectPool([]PoolOption{
		WithMaxPerKey(2),
		WithPriorityAging(250 * time.Millisecond),
		WithRateLimit(RateLimit{PerSecond: 5, Burst: 10}),
		WithDefaultAttemptTimeout(30 * time.Second),
		WithCircuitBreaker(CircuitBreaker{FailureRate: 0.5, CoolDown: 2 * time.Second}),
		WithParent("shared"),
	}))
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"max_per_key", "priority_aging", "rate_limit", "default_attempt_timeout", "circuit_breaker", "parent"}
	if got := request.GetUpdateMask().GetPaths(); !slices.Equal(got, want) {
		t.Errorf("mask = %v, want %v", got, want)
	}

	pool := request.GetPool()
	if pool.GetMaxPerKey() != 2 {
		t.Errorf("max per key = %d", pool.GetMaxPerKey())
	}
	if pool.GetPriorityAging().AsDuration() != 250*time.Millisecond {
		t.Errorf("priority aging = %v", pool.GetPriorityAging())
	}
	if pool.GetRateLimit().GetPerSecond() != 5 || pool.GetRateLimit().GetBurst() != 10 {
		t.Errorf("rate limit = %v", pool.GetRateLimit())
	}
	if pool.GetDefaultAttemptTimeout().AsDuration() != 30*time.Second {
		t.Errorf("default attempt timeout = %v", pool.GetDefaultAttemptTimeout())
	}
	breaker := pool.GetCircuitBreaker()
	if breaker.GetFailureRate() != 0.5 || breaker.GetWindow() != nil || breaker.GetCoolDown().AsDuration() != 2*time.Second {
		t.Errorf("circuit breaker = %v", breaker)
	}
	if pool.GetParent() != "shared" {
		t.Errorf("parent = %q", pool.GetParent())
	}
}

func TestUpdatePoolZeroSchedulingClears(t *testing.T) {
	request, err := updatePoolRequest("p", collectPool([]PoolOption{
		WithMaxPerKey(0),
		WithRateLimit(RateLimit{}),
		WithCircuitBreaker(CircuitBreaker{}),
	}))
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"max_per_key", "rate_limit", "circuit_breaker"}
	if got := request.GetUpdateMask().GetPaths(); !slices.Equal(got, want) {
		t.Errorf("mask = %v, want %v", got, want)
	}
	pool := request.GetPool()
	if pool.MaxPerKey != nil || pool.RateLimit != nil || pool.CircuitBreaker != nil {
		t.Errorf("zero settings must leave their fields unset, got %v", pool)
	}

	_, err = updatePoolRequest("p", collectPool([]PoolOption{WithMaxPerKey(-1)}))
	var wpErr *Error
	if !errors.As(err, &wpErr) || !wpErr.HasViolation("pool.max_per_key") {
		t.Errorf("max per key -1 gave %v, want a violation naming pool.max_per_key", err)
	}
}

func TestPoolFromProtoSchedulingFields(t *testing.T) {
	pool := poolFromProto(&pb.Pool{
		Name:           "p",
		MaxPerKey:      proto.Int32(3),
		RateLimit:      &pb.RateLimit{PerSecond: 2.5, Burst: 4},
		CircuitBreaker: &pb.CircuitBreaker{FailureRate: 0.25, MinAttempts: 20},
		Parent:         "shared",
	}, &pb.PoolStats{
		CircuitState:     pb.CircuitState_CIRCUIT_STATE_OPEN,
		CircuitOpenUntil: timestamppb.New(time.Unix(20, 0)),
		BorrowedCount:    2,
	})
	if pool.MaxPerKey != 3 {
		t.Errorf("max per key = %d", pool.MaxPerKey)
	}
	if pool.PriorityAging != time.Second {
		t.Errorf("unset priority aging = %v, want the 1 s default", pool.PriorityAging)
	}
	if pool.RateLimit == nil || *pool.RateLimit != (RateLimit{PerSecond: 2.5, Burst: 4}) {
		t.Errorf("rate limit = %+v", pool.RateLimit)
	}
	if pool.CircuitBreaker == nil || *pool.CircuitBreaker != (CircuitBreaker{FailureRate: 0.25, MinAttempts: 20}) {
		t.Errorf("circuit breaker = %+v", pool.CircuitBreaker)
	}
	if pool.Stats.CircuitState != CircuitOpen || pool.Stats.CircuitState.String() != "open" {
		t.Errorf("circuit state = %v", pool.Stats.CircuitState)
	}
	if !pool.Stats.CircuitOpenUntil.Equal(time.Unix(20, 0)) {
		t.Errorf("circuit open until = %v", pool.Stats.CircuitOpenUntil)
	}
	if pool.Stats.Borrowed != 2 {
		t.Errorf("borrowed = %d", pool.Stats.Borrowed)
	}

	_, differs := poolDiffers(pool, collectPool([]PoolOption{
		WithMaxPerKey(3),
		WithPriorityAging(0),
		WithRateLimit(RateLimit{PerSecond: 2.5, Burst: 4}),
		WithCircuitBreaker(CircuitBreaker{FailureRate: 0.25}),
		WithParent("shared"),
	}))
	if differs {
		t.Error("settings equal to the pool's, with defaults left zero, must not differ")
	}
	changed, differs := poolDiffers(pool, collectPool([]PoolOption{WithDefaultAttemptTimeout(time.Minute)}))
	if !differs || changed.defaultAttemptTimeout == nil {
		t.Errorf("a new default attempt timeout gave %+v, %v", changed, differs)
	}
}

func TestStatusAndCompletionSchedulingFields(t *testing.T) {
	status := statusFromProto(&pb.WorkStatus{WorkId: "wk_1", ConcurrencyKey: "tenant-a", Priority: 5, Continuations: 2})
	if status.ConcurrencyKey != "tenant-a" || status.Priority != 5 || status.Continuations != 2 {
		t.Errorf("status = %+v", status)
	}
	completion := completionFromProto(&pb.Completion{Sequence: 1, WorkId: "wk_1", Attempts: 3, Continuations: 2})
	if completion.Continuations != 2 {
		t.Errorf("completion continuations = %d", completion.Continuations)
	}
}

func TestCallHandlerContinuation(t *testing.T) {
	task := &Task{WorkID: "wk_1", Attempt: 1, Function: "f"}
	result := callHandler(t.Context(), func(_ context.Context, _ *Task) (any, error) {
		return Continue{Args: map[string]any{"page": 2}}, nil
	}, task)
	args := result.GetContinuation().GetArgs()
	if args == nil || FromValue(args).(map[string]any)["page"] != 2.0 {
		t.Errorf("continuation result = %v", result)
	}

	result = callHandler(t.Context(), func(_ context.Context, _ *Task) (any, error) {
		return &Continue{Args: "next"}, nil
	}, task)
	if FromValue(result.GetContinuation().GetArgs()) != "next" {
		t.Errorf("a *Continue gave %v", result)
	}

	result = callHandler(t.Context(), func(_ context.Context, _ *Task) (any, error) {
		return Continue{Args: math.Inf(1)}, nil
	}, task)
	if !result.GetFailure().GetNonRetryable() {
		t.Errorf("continuation args that cannot be sent should fail without retry, got %v", result)
	}
}

func TestWaitReasonNamesFollowTheEnum(t *testing.T) {
	cases := map[pb.WaitReason]string{
		pb.WaitReason_WAIT_REASON_FINISHED:     "finished",
		pb.WaitReason_WAIT_REASON_KEY_AT_LIMIT: "key_at_limit",
		pb.WaitReason_WAIT_REASON_RATE_LIMITED: "rate_limited",
		pb.WaitReason_WAIT_REASON_CIRCUIT_OPEN: "circuit_open",
	}
	for reason, want := range cases {
		if got := WaitReason(reason).String(); got != want {
			t.Errorf("WaitReason(%v) = %q, want %q", reason, got, want)
		}
	}
}
