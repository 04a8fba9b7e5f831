package workpool

import (
	"context"
	"time"

	pb "github.com/workpool/workpool/sdk/go/gen/workpool/v1"
)

// WaitReason is the reason a work item is not running now.
type WaitReason int

// Wait reasons, as WorkpoolService.Explain returns them.
const (
	WaitUnspecified WaitReason = iota
	// WaitPoolPaused: the pool's max parallelism is 0.
	WaitPoolPaused
	// WaitPoolAtLimit: the pool runs its maximum already (see RunningWorkIDs).
	WaitPoolAtLimit
	// WaitScheduled: run-at or run-after puts the start at Until.
	WaitScheduled
	// WaitBackingOff: a retry waits out its backoff until Until.
	WaitBackingOff
	// WaitNoWorker: no connected worker serves the pool and function.
	WaitNoWorker
	// WaitWorkersBusy: workers serve the function but none has a free slot.
	WaitWorkersBusy
	// WaitQueued: ready, behind AheadCount earlier items or the next
	// dispatch pass.
	WaitQueued
	// WaitRunning: leased to WorkerID since Since.
	WaitRunning
	// WaitFinished: Status.Result holds the result.
	WaitFinished
	// WaitKeyAtLimit: the pool's max per key of items with the same
	// concurrency key run already (see RunningWorkIDs).
	WaitKeyAtLimit
	// WaitRateLimited: the pool's rate limit has no token until Until.
	WaitRateLimited
	// WaitCircuitOpen: the pool's circuit breaker is open until Until.
	WaitCircuitOpen
)

var waitReasonNames = [...]string{"unspecified", "pool_paused", "pool_at_limit", "scheduled",
	"backing_off", "no_worker", "workers_busy", "queued", "running", "finished",
	"key_at_limit", "rate_limited", "circuit_open"}

func (r WaitReason) String() string {
	if r < 0 || int(r) >= len(waitReasonNames) {
		return "unspecified"
	}
	return waitReasonNames[r]
}

// Explanation is the result of Explain.
type Explanation struct {
	Reason WaitReason
	// Detail is the reason in a sentence for people.
	Detail string
	Status *WorkStatus
	// Until is the end of the wait for WaitScheduled, WaitBackingOff,
	// WaitRateLimited and WaitCircuitOpen.
	Until time.Time
	// RunningWorkIDs lists up to 20 running items for WaitPoolAtLimit and
	// WaitKeyAtLimit.
	RunningWorkIDs []string
	// WorkerID and Since describe the lease for WaitRunning.
	WorkerID string
	Since    time.Time
	// AheadCount counts ready items of the same pool and function that
	// start first.
	AheadCount int64
}

// Explain returns why a work item is not running now. Errors are those of
// Status.
func (c *Client) Explain(ctx context.Context, workID string) (*Explanation, error) {
	response, err := unary(c, ctx, c.work.Explain, &pb.ExplainRequest{WorkId: workID})
	if err != nil {
		return nil, err
	}
	explanation := &Explanation{
		Reason:         WaitReason(response.GetReason()),
		Detail:         response.GetDetail(),
		Until:          timeOf(response.GetUntil()),
		RunningWorkIDs: response.GetRunningWorkIds(),
		WorkerID:       response.GetWorkerId(),
		Since:          timeOf(response.GetSince()),
		AheadCount:     response.GetAheadCount(),
	}
	if response.GetStatus() != nil {
		explanation.Status = statusFromProto(response.GetStatus())
	}
	return explanation, nil
}
