package workpool

import (
	"errors"
	"fmt"
	"math"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/fieldmaskpb"
	"google.golang.org/protobuf/types/known/structpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	pb "github.com/workpool/workpool/sdk/go/gen/workpool/v1"
)

// Server defaults of a retry policy's unset fields (types.proto).
const (
	defaultMaxAttempts    = 5
	defaultInitialBackoff = 250 * time.Millisecond
	defaultBackoffBase    = 2.0
	defaultPriorityAging  = time.Second
)

// Requests.

// retryPolicyToProto converts a policy; field names it in errors, such as
// "work.retry_policy".
func retryPolicyToProto(p RetryPolicy, field string) (*pb.RetryPolicy, error) {
	if p.MaxAttempts < 1 || p.MaxAttempts > math.MaxInt32 {
		return nil, invalidArgument(field+".max_attempts",
			"%s.max_attempts is %d; a retry policy needs 1 or more attempts in total (1 means no retry)", field, p.MaxAttempts)
	}
	message := &pb.RetryPolicy{MaxAttempts: proto.Int32(int32(p.MaxAttempts))}
	if p.InitialBackoff < 0 {
		return nil, invalidArgument(field+".initial_backoff", "%s.initial_backoff is %v; use 0 for the server's default or a positive duration", field, p.InitialBackoff)
	}
	if p.MaxBackoff < 0 {
		return nil, invalidArgument(field+".max_backoff", "%s.max_backoff is %v; use 0 for no cap or a positive duration", field, p.MaxBackoff)
	}
	if p.InitialBackoff > 0 {
		message.InitialBackoff = durationpb.New(p.InitialBackoff)
	}
	if p.Base != 0 {
		message.Base = proto.Float64(p.Base)
	}
	if p.MaxBackoff > 0 {
		message.MaxBackoff = durationpb.New(p.MaxBackoff)
	}
	return message, nil
}

// workSpec builds one WorkSpec; name is its field in errors, such as
// "work" or "work[3]".
func workSpec(function string, args any, opts []EnqueueOption, name string) (*pb.WorkSpec, error) {
	if function == "" {
		return nil, invalidArgument(name+".function", "%s.function is empty; name a function such as \"email.send\"", name)
	}
	settings, err := collectEnqueue(opts, name)
	if err != nil {
		return nil, err
	}
	argsValue, err := toValue(args, name+".args")
	if err != nil {
		return nil, invalidArgument(name+".args", "%v", err)
	}
	spec := &pb.WorkSpec{
		Function:       function,
		Args:           argsValue,
		IdempotencyKey: settings.idempotencyKey,
		ConcurrencyKey: settings.concurrencyKey,
	}

	// The server checks the priority range and the key length, so every SDK
	// reports them with the same field violations.
	if settings.priority < math.MinInt32 || settings.priority > math.MaxInt32 {
		return nil, invalidArgument(name+".priority", "%s.priority is %d; use -1000000 to 1000000", name, settings.priority)
	}
	spec.Priority = int32(settings.priority)
	if settings.attemptTimeout < 0 {
		return nil, invalidArgument(name+".attempt_timeout", "%s.attempt_timeout is %v; use a positive duration", name, settings.attemptTimeout)
	}
	if settings.attemptTimeout > 0 {
		spec.AttemptTimeout = durationpb.New(settings.attemptTimeout)
	}

	switch settings.retry {
	case retryEnabled:
		spec.Retry = &pb.WorkSpec_RetryEnabled{RetryEnabled: true}
	case retryDisabled:
		spec.Retry = &pb.WorkSpec_RetryEnabled{RetryEnabled: false}
	case retryCustom:
		policy, err := retryPolicyToProto(settings.policy, name+".retry_policy")
		if err != nil {
			return nil, err
		}
		spec.Retry = &pb.WorkSpec_RetryPolicy{RetryPolicy: policy}
	}

	if settings.onComplete != "" {
		context, err := toValue(settings.context, name+".on_complete.context")
		if err != nil {
			return nil, invalidArgument(name+".on_complete.context", "%v", err)
		}
		spec.OnComplete = &pb.OnComplete{Function: settings.onComplete, Context: context}
	}

	if settings.hasRunAt {
		spec.Schedule = &pb.WorkSpec_RunAt{RunAt: timestamppb.New(settings.runAt)}
	} else if settings.hasRunAfter {
		if settings.runAfter < 0 {
			return nil, invalidArgument(name+".run_after", "%s.run_after is %v; use zero or more", name, settings.runAfter)
		}
		spec.Schedule = &pb.WorkSpec_RunAfter{RunAfter: durationpb.New(settings.runAfter)}
	}
	return spec, nil
}

func checkPoolName(pool, field string) error {
	if pool == "" {
		return invalidArgument(field, "%s is empty; name a pool", field)
	}
	return nil
}

// poolToProto builds a Pool message and the update-mask paths of the given
// settings, in a fixed order.
func poolToProto(name string, s *poolSettings) (*pb.Pool, []string, error) {
	if err := checkPoolName(name, "pool.name"); err != nil {
		return nil, nil, err
	}
	pool := &pb.Pool{Name: name}
	var paths []string
	if s.maxParallelism != nil {
		n := *s.maxParallelism
		if n < 0 || n > math.MaxInt32 {
			return nil, nil, invalidArgument("pool.max_parallelism", "pool.max_parallelism is %d; use 0 or more (0 pauses the pool)", n)
		}
		pool.MaxParallelism = proto.Int32(int32(n))
		paths = append(paths, "max_parallelism")
	}
	if s.retryByDefault != nil {
		pool.RetryByDefault = *s.retryByDefault
		paths = append(paths, "retry_by_default")
	}
	if s.defaultRetry != nil {
		policy, err := retryPolicyToProto(*s.defaultRetry, "pool.default_retry")
		if err != nil {
			return nil, nil, err
		}
		pool.DefaultRetry = policy
		paths = append(paths, "default_retry")
	}
	if s.statusTTL != nil {
		if *s.statusTTL < 0 {
			return nil, nil, invalidArgument("pool.status_ttl", "pool.status_ttl is %v; use zero or more", *s.statusTTL)
		}
		pool.StatusTtl = durationpb.New(*s.statusTTL)
		paths = append(paths, "status_ttl")
	}
	if s.keepStatusForever != nil {
		pool.KeepStatusForever = *s.keepStatusForever
		paths = append(paths, "keep_status_forever")
	}
	schedulingPaths, err := schedulingToProto(pool, s)
	if err != nil {
		return nil, nil, err
	}
	return pool, append(paths, schedulingPaths...), nil
}

// schedulingToProto sets the scheduling settings on pool and returns their
// update-mask paths. A zero value leaves its field unset, which in
// UpdatePool restores the server's default or removes the setting.
func schedulingToProto(pool *pb.Pool, s *poolSettings) ([]string, error) {
	var paths []string
	if s.maxPerKey != nil {
		n := *s.maxPerKey
		if n < 0 || n > math.MaxInt32 {
			return nil, invalidArgument("pool.max_per_key", "pool.max_per_key is %d; use 0 (no per-key limit) or more", n)
		}
		if n > 0 {
			pool.MaxPerKey = proto.Int32(int32(n))
		}
		paths = append(paths, "max_per_key")
	}
	if s.priorityAging != nil {
		if *s.priorityAging < 0 {
			return nil, invalidArgument("pool.priority_aging", "pool.priority_aging is %v; use a positive duration, or 0 for the default", *s.priorityAging)
		}
		if *s.priorityAging > 0 {
			pool.PriorityAging = durationpb.New(*s.priorityAging)
		}
		paths = append(paths, "priority_aging")
	}
	if s.rateLimit != nil {
		limit := *s.rateLimit
		if limit.Burst < 0 || limit.Burst > math.MaxInt32 {
			return nil, invalidArgument("pool.rate_limit.burst", "pool.rate_limit.burst is %d; use 0 (a burst of 1) or more", limit.Burst)
		}
		if limit != (RateLimit{}) {
			pool.RateLimit = &pb.RateLimit{PerSecond: limit.PerSecond, Burst: int32(limit.Burst)}
		}
		paths = append(paths, "rate_limit")
	}
	if s.defaultAttemptTimeout != nil {
		if *s.defaultAttemptTimeout < 0 {
			return nil, invalidArgument("pool.default_attempt_timeout", "pool.default_attempt_timeout is %v; use a positive duration, or 0 for none", *s.defaultAttemptTimeout)
		}
		if *s.defaultAttemptTimeout > 0 {
			pool.DefaultAttemptTimeout = durationpb.New(*s.defaultAttemptTimeout)
		}
		paths = append(paths, "default_attempt_timeout")
	}
	if s.circuitBreaker != nil {
		breaker, err := circuitBreakerToProto(*s.circuitBreaker)
		if err != nil {
			return nil, err
		}
		pool.CircuitBreaker = breaker
		paths = append(paths, "circuit_breaker")
	}
	if s.parent != nil {
		pool.Parent = *s.parent
		paths = append(paths, "parent")
	}
	return paths, nil
}

// circuitBreakerToProto returns nil for a zero breaker, which removes it.
func circuitBreakerToProto(b CircuitBreaker) (*pb.CircuitBreaker, error) {
	if b == (CircuitBreaker{}) {
		return nil, nil
	}
	if b.MinAttempts < 0 || b.MinAttempts > math.MaxInt32 {
		return nil, invalidArgument("pool.circuit_breaker.min_attempts", "pool.circuit_breaker.min_attempts is %d; use 0 (the default of 10) or more", b.MinAttempts)
	}
	if b.Window < 0 || b.CoolDown < 0 {
		return nil, invalidArgument("pool.circuit_breaker", "pool.circuit_breaker window %v and cool-down %v must not be negative; use 0 for the defaults", b.Window, b.CoolDown)
	}
	message := &pb.CircuitBreaker{FailureRate: b.FailureRate, MinAttempts: int32(b.MinAttempts)}
	if b.Window > 0 {
		message.Window = durationpb.New(b.Window)
	}
	if b.CoolDown > 0 {
		message.CoolDown = durationpb.New(b.CoolDown)
	}
	return message, nil
}

func updatePoolRequest(name string, s *poolSettings) (*pb.UpdatePoolRequest, error) {
	pool, paths, err := poolToProto(name, s)
	if err != nil {
		return nil, err
	}
	if len(paths) == 0 {
		return nil, invalidArgument("update_mask", "UpdatePool needs at least one setting to change, such as WithMaxParallelism(5)")
	}
	return &pb.UpdatePoolRequest{Pool: pool, UpdateMask: &fieldmaskpb.FieldMask{Paths: paths}}, nil
}

// Responses.

func timeOf(ts *timestamppb.Timestamp) time.Time {
	if ts == nil {
		return time.Time{}
	}
	return ts.AsTime()
}

func durationOf(d *durationpb.Duration) time.Duration {
	if d == nil {
		return 0
	}
	return d.AsDuration()
}

func resultFromProto(r *pb.Result) *Result {
	if r == nil {
		return nil
	}
	switch outcome := r.GetOutcome().(type) {
	case *pb.Result_Success:
		raw := outcome.Success.GetReturnValue()
		return &Result{Kind: ResultSuccess, ReturnValue: FromValue(raw), raw: raw}
	case *pb.Result_Failure:
		return &Result{
			Kind:         ResultFailure,
			Error:        outcome.Failure.GetError(),
			NonRetryable: outcome.Failure.GetNonRetryable(),
		}
	case *pb.Result_Canceled:
		return &Result{Kind: ResultCanceled}
	}
	return &Result{Kind: ResultUnspecified}
}

func statusFromProto(s *pb.WorkStatus) *WorkStatus {
	return &WorkStatus{
		WorkID:           s.GetWorkId(),
		State:            WorkState(s.GetState()),
		PreviousAttempts: int(s.GetPreviousAttempts()),
		Result:           resultFromProto(s.GetResult()),
		Pool:             s.GetPool(),
		Function:         s.GetFunction(),
		EnqueuedAt:       timeOf(s.GetEnqueuedAt()),
		ReadyAt:          timeOf(s.GetReadyAt()),
		FinishedAt:       timeOf(s.GetFinishedAt()),
		LastError:        s.GetLastError(),
		ConcurrencyKey:   s.GetConcurrencyKey(),
		Priority:         int(s.GetPriority()),
		Continuations:    int(s.GetContinuations()),
	}
}

func completionFromProto(c *pb.Completion) *Completion {
	var context any
	if c.GetContext() != nil {
		context = FromValue(c.GetContext())
	}
	return &Completion{
		Sequence:      c.GetSequence(),
		WorkID:        c.GetWorkId(),
		Pool:          c.GetPool(),
		Function:      c.GetFunction(),
		Result:        resultFromProto(c.GetResult()),
		Context:       context,
		Attempts:      int(c.GetAttempts()),
		Continuations: int(c.GetContinuations()),
		FinishedAt:    timeOf(c.GetFinishedAt()),
	}
}

func retryPolicyFromProto(p *pb.RetryPolicy) RetryPolicy {
	policy := RetryPolicy{
		MaxAttempts:    defaultMaxAttempts,
		InitialBackoff: defaultInitialBackoff,
		Base:           defaultBackoffBase,
		MaxBackoff:     durationOf(p.GetMaxBackoff()),
	}
	// A pool without default_retry has the server's default policy.
	if p == nil {
		return policy
	}
	if p.MaxAttempts != nil {
		policy.MaxAttempts = int(p.GetMaxAttempts())
	}
	if p.GetInitialBackoff() != nil {
		policy.InitialBackoff = durationOf(p.GetInitialBackoff())
	}
	if p.Base != nil {
		policy.Base = p.GetBase()
	}
	return policy
}

func poolFromProto(p *pb.Pool, stats *pb.PoolStats) *Pool {
	pool := &Pool{
		Name:                  p.GetName(),
		MaxParallelism:        int(p.GetMaxParallelism()),
		RetryByDefault:        p.GetRetryByDefault(),
		DefaultRetry:          retryPolicyFromProto(p.GetDefaultRetry()),
		StatusTTL:             durationOf(p.GetStatusTtl()),
		KeepStatusForever:     p.GetKeepStatusForever(),
		MaxPerKey:             int(p.GetMaxPerKey()),
		PriorityAging:         defaultPriorityAging,
		DefaultAttemptTimeout: durationOf(p.GetDefaultAttemptTimeout()),
		Parent:                p.GetParent(),
	}
	if p.GetPriorityAging() != nil {
		pool.PriorityAging = durationOf(p.GetPriorityAging())
	}
	if limit := p.GetRateLimit(); limit != nil {
		pool.RateLimit = &RateLimit{PerSecond: limit.GetPerSecond(), Burst: int(limit.GetBurst())}
	}
	if breaker := p.GetCircuitBreaker(); breaker != nil {
		pool.CircuitBreaker = &CircuitBreaker{
			FailureRate: breaker.GetFailureRate(),
			Window:      durationOf(breaker.GetWindow()),
			MinAttempts: int(breaker.GetMinAttempts()),
			CoolDown:    durationOf(breaker.GetCoolDown()),
		}
	}
	if stats != nil {
		pool.Stats = &PoolStats{
			Pending:          stats.GetPendingCount(),
			Running:          stats.GetRunningCount(),
			Borrowed:         stats.GetBorrowedCount(),
			CircuitState:     CircuitState(stats.GetCircuitState()),
			CircuitOpenUntil: timeOf(stats.GetCircuitOpenUntil()),
		}
	}
	return pool
}

// poolDiffers returns the settings of want that differ from current.
func poolDiffers(current *Pool, want *poolSettings) (*poolSettings, bool) {
	changed := &poolSettings{}
	differs := false
	if want.maxParallelism != nil && *want.maxParallelism != current.MaxParallelism {
		changed.maxParallelism, differs = want.maxParallelism, true
	}
	if want.retryByDefault != nil && *want.retryByDefault != current.RetryByDefault {
		changed.retryByDefault, differs = want.retryByDefault, true
	}
	if want.defaultRetry != nil {
		// Compare with the server's defaults filled in, as GetPool returns them.
		message, err := retryPolicyToProto(*want.defaultRetry, "pool.default_retry")
		if err != nil || retryPolicyFromProto(message) != current.DefaultRetry {
			changed.defaultRetry, differs = want.defaultRetry, true
		}
	}
	if want.statusTTL != nil && *want.statusTTL != current.StatusTTL {
		changed.statusTTL, differs = want.statusTTL, true
	}
	if want.keepStatusForever != nil && *want.keepStatusForever != current.KeepStatusForever {
		changed.keepStatusForever, differs = want.keepStatusForever, true
	}
	if schedulingDiffers(current, want, changed) {
		differs = true
	}
	return changed, differs
}

// schedulingDiffers copies the scheduling settings of want that differ from
// current into changed, and reports whether there were any.
func schedulingDiffers(current *Pool, want, changed *poolSettings) bool {
	differs := false
	if want.maxPerKey != nil && *want.maxPerKey != current.MaxPerKey {
		changed.maxPerKey, differs = want.maxPerKey, true
	}
	if want.priorityAging != nil {
		aging := *want.priorityAging
		if aging == 0 {
			aging = defaultPriorityAging
		}
		if aging != current.PriorityAging {
			changed.priorityAging, differs = want.priorityAging, true
		}
	}
	if want.rateLimit != nil && !sameRateLimit(*want.rateLimit, current.RateLimit) {
		changed.rateLimit, differs = want.rateLimit, true
	}
	if want.defaultAttemptTimeout != nil && *want.defaultAttemptTimeout != current.DefaultAttemptTimeout {
		changed.defaultAttemptTimeout, differs = want.defaultAttemptTimeout, true
	}
	if want.circuitBreaker != nil && !sameCircuitBreaker(*want.circuitBreaker, current.CircuitBreaker) {
		changed.circuitBreaker, differs = want.circuitBreaker, true
	}
	if want.parent != nil && *want.parent != current.Parent {
		changed.parent, differs = want.parent, true
	}
	return differs
}

func sameRateLimit(requested RateLimit, current *RateLimit) bool {
	if current == nil {
		return requested == RateLimit{}
	}
	return requested == *current
}

// sameCircuitBreaker treats a zero field of requested, other than
// FailureRate, as matching whatever the pool has, because the server fills
// in its default there.
func sameCircuitBreaker(requested CircuitBreaker, current *CircuitBreaker) bool {
	if current == nil {
		return requested == CircuitBreaker{}
	}
	return requested.FailureRate == current.FailureRate &&
		(requested.Window == 0 || requested.Window == current.Window) &&
		(requested.MinAttempts == 0 || requested.MinAttempts == current.MinAttempts) &&
		(requested.CoolDown == 0 || requested.CoolDown == current.CoolDown)
}

// ParseFollowUp decodes the args of an on-complete follow-up item:
// {"work_id", "context", "result": {"kind": "success", "return_value"} |
// {"kind": "failure", "error"} | {"kind": "canceled"}}.
func ParseFollowUp(args *structpb.Value) (*FollowUp, error) {
	fields := args.GetStructValue().GetFields()
	if fields == nil {
		return nil, errors.New("workpool: follow-up args are not an object")
	}
	workID := fields["work_id"].GetStringValue()
	if workID == "" {
		return nil, errors.New("workpool: follow-up args have no work_id")
	}
	resultFields := fields["result"].GetStructValue().GetFields()
	result := &Result{}
	switch kind := resultFields["kind"].GetStringValue(); kind {
	case "success":
		raw := resultFields["return_value"]
		result.Kind, result.ReturnValue, result.raw = ResultSuccess, FromValue(raw), raw
	case "failure":
		result.Kind, result.Error = ResultFailure, resultFields["error"].GetStringValue()
		result.NonRetryable = resultFields["non_retryable"].GetBoolValue()
	case "canceled":
		result.Kind = ResultCanceled
	default:
		return nil, fmt.Errorf("workpool: follow-up result has the unknown kind %q", kind)
	}
	var context any
	if c, ok := fields["context"]; ok {
		context = FromValue(c)
	}
	return &FollowUp{WorkID: workID, Context: context, Result: result}, nil
}
