package workpool

import (
	"context"
	"errors"
	"math"
	"strings"
	"testing"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/structpb"

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
