package workpool

import (
	"context"
	"errors"
	"io"
	"sort"
	"time"

	pb "github.com/workpool/workpool/sdk/go/gen/workpool/v1"
)

type attemptKey struct {
	workID  string
	attempt int32
}

// attempt is one assignment from its arrival until its result is queued or
// dropped. Only the session goroutine reads and writes its fields; the
// handler goroutine uses ctx alone.
type attempt struct {
	key       attemptKey
	session   *session
	task      *Task
	handler   HandlerFunc
	ctx       context.Context
	cancel    context.CancelCauseFunc
	leaseLost bool
}

type finishedAttempt struct {
	attempt *attempt
	// result is nil when the handler never ran.
	result *pb.AttemptResult
}

// session is the state of one Work stream, owned by the goroutine that runs
// it.
type session struct {
	stream    pb.WorkerService_WorkClient
	workerID  string
	heartbeat time.Duration
	running   map[attemptKey]*attempt
	results   []*pb.AttemptResult
	unacked   map[attemptKey]bool
	credit    int32
	closed    bool
}

type incoming struct {
	response *pb.WorkResponse
	err      error
}

func (s *session) idle() bool {
	return len(s.running) == 0 && len(s.results) == 0 && len(s.unacked) == 0
}

func (s *session) heartbeatIDs() []string {
	seen := map[string]bool{}
	for key, a := range s.running {
		if !a.leaseLost {
			seen[key.workID] = true
		}
	}
	ids := make([]string, 0, len(seen))
	for id := range seen {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	return ids
}

// runSession opens one stream and serves it until it ends. It returns the
// stream's error, or nil after a graceful stop or an abort.
func (w *Worker) runSession(retry *backoff) error {
	streamCtx, cancelStream := context.WithCancel(context.Background())
	defer cancelStream()

	stream, err := w.client.Work(streamCtx)
	if err != nil {
		return fromRPC(err)
	}
	hello := &pb.Hello{Pools: w.pools, Functions: w.Functions(), Capacity: int32(w.capacity), WorkerName: w.name}
	if err := stream.Send(&pb.WorkRequest{Hello: hello}); err != nil && !errors.Is(err, io.EOF) {
		return fromRPC(err)
	}

	// Receive on a goroutine so the session loop can also wait for results,
	// heartbeats and stop requests.
	messages := make(chan incoming, 16)
	go func() {
		for {
			response, err := stream.Recv()
			select {
			case messages <- incoming{response, err}:
			case <-streamCtx.Done():
				return
			}
			if err != nil {
				return
			}
		}
	}()

	var first incoming
	select {
	case first = <-messages:
	case <-w.abort:
		return nil
	}
	if first.err != nil {
		if errors.Is(first.err, io.EOF) {
			return errors.New("workpool: server ended the worker stream before its welcome")
		}
		return fromRPC(first.err)
	}
	welcome := first.response.GetWelcome()
	if welcome == nil {
		return errors.New("workpool: the server's first worker stream message has no welcome")
	}

	s := &session{
		stream:    stream,
		workerID:  welcome.GetWorkerId(),
		heartbeat: durationOf(welcome.GetHeartbeatInterval()),
		running:   map[attemptKey]*attempt{},
		unacked:   map[attemptKey]bool{},
	}
	if s.heartbeat <= 0 {
		s.heartbeat = fallbackHeartbeat
	}
	retry.reset()
	w.logger.Info("workpool: worker connected", "worker_id", s.workerID, "heartbeat_interval", s.heartbeat)

	defer w.endSession(s)
	w.handleResponse(s, first.response)
	return w.serve(s, messages, cancelStream)
}

// serve is the session loop: the only goroutine that sends on the stream
// and touches the session's state.
func (w *Worker) serve(s *session, messages <-chan incoming, cancelStream context.CancelFunc) error {
	ticker := time.NewTicker(s.heartbeat)
	defer ticker.Stop()

	stopping := w.stopping
	force := w.force
	var closeTimer <-chan time.Time
	halfClosed := false
	heartbeatDue := false
	sendFailed := false

	for {
		select {
		case message := <-messages:
			if message.err != nil {
				if errors.Is(message.err, io.EOF) {
					if halfClosed {
						return nil
					}
					return errors.New("workpool: server ended the worker stream")
				}
				return fromRPC(message.err)
			}
			w.handleResponse(s, message.response)
		case finished := <-w.results:
			w.handleFinished(finished)
		case <-ticker.C:
			heartbeatDue = true
		case <-stopping:
			stopping = nil
		case <-force:
			force = nil
			w.logger.Warn("workpool: stop grace period ended with attempts running",
				"work_ids", runningIDs(s))
		case <-closeTimer:
			// The server did not end the stream after the half-close.
			cancelStream()
			return nil
		case <-w.abort:
			cancelStream()
			return nil
		}

		if !sendFailed && !halfClosed {
			if request := w.nextRequest(s, heartbeatDue); request != nil {
				heartbeatDue = false
				if err := s.stream.Send(request); err != nil {
					// The receive goroutine gets the call's status next.
					sendFailed = true
					if len(request.GetResults()) > 0 {
						w.logger.Warn("workpool: results lost with the worker stream", "worker_id", s.workerID)
					}
				}
			}
		}

		if w.isStopping() && !halfClosed && !sendFailed && (s.idle() || force == nil) {
			halfClosed = true
			if err := s.stream.CloseSend(); err != nil {
				cancelStream()
				return nil
			}
			closeTimer = time.After(closeTimeout)
		}
	}
}

// nextRequest takes the waiting results, credit and, when due, a heartbeat
// into one request, or returns nil when there is nothing to send.
func (w *Worker) nextRequest(s *session, heartbeatDue bool) *pb.WorkRequest {
	request := &pb.WorkRequest{}
	if len(s.results) > 0 {
		request.Results = s.results
		s.results = nil
	}
	if s.credit > 0 {
		request.Credit = &pb.Credit{Count: s.credit}
		s.credit = 0
	}
	if heartbeatDue {
		if ids := s.heartbeatIDs(); len(ids) > 0 {
			request.Heartbeat = &pb.Heartbeat{WorkIds: ids}
		}
	}
	if len(request.Results) == 0 && request.Credit == nil && request.Heartbeat == nil {
		return nil
	}
	return request
}

func (w *Worker) handleResponse(s *session, response *pb.WorkResponse) {
	for _, assignment := range response.GetAssignments() {
		w.startAttempt(s, assignment)
	}
	for _, cancel := range response.GetCancels() {
		a := s.running[attemptKey{cancel.GetWorkId(), cancel.GetAttempt()}]
		if a == nil {
			w.logger.Debug("workpool: cancel request for an attempt that is not running",
				"work_id", cancel.GetWorkId(), "attempt", cancel.GetAttempt())
			continue
		}
		if cancel.GetReason() == pb.CancelReason_CANCEL_REASON_LEASE_LOST {
			a.leaseLost = true
			w.logger.Warn("workpool: lease lost; the attempt's result will be dropped", a.logAttrs()...)
			a.cancel(ErrLeaseLost)
		} else if cancel.GetReason() == pb.CancelReason_CANCEL_REASON_TIMEOUT {
			w.logger.Info("workpool: attempt timed out; canceling its handler", a.logAttrs()...)
			a.cancel(ErrAttemptTimedOut)
		} else {
			w.logger.Info("workpool: cancel requested", a.logAttrs()...)
			a.cancel(ErrCancelRequested)
		}
	}
	for _, ack := range response.GetAcks() {
		delete(s.unacked, attemptKey{ack.GetWorkId(), ack.GetAttempt()})
		if !ack.GetAccepted() {
			w.logger.Info("workpool: server ignored a stale result", "work_id", ack.GetWorkId(), "attempt", ack.GetAttempt())
		}
	}
}

func (w *Worker) startAttempt(s *session, assignment *pb.Assignment) {
	key := attemptKey{assignment.GetWorkId(), assignment.GetAttempt()}
	if s.running[key] != nil {
		w.logger.Error("workpool: duplicate assignment ignored", "work_id", key.workID, "attempt", key.attempt)
		return
	}
	ctx, cancel := context.WithCancelCause(context.Background())
	task := newTask(assignment)
	a := &attempt{key: key, session: s, task: task, handler: w.handler(task.Function), ctx: ctx, cancel: cancel}
	// An assignment that arrives while the worker stops still runs: the
	// protocol has no way to hand it back without ending the attempt.
	s.running[key] = a
	w.logger.Debug("workpool: attempt assigned", a.logAttrs()...)
	w.enqueueAttempt(a)
}

// dispatch starts queued attempts in assignment order, each when a slot is
// free, so items start in the order the server assigned them. It runs on
// its own goroutine until Run returns.
func (w *Worker) dispatch() {
	for {
		a := w.nextQueued()
		if a == nil {
			return
		}
		select {
		case w.slots <- struct{}{}:
			started := make(chan struct{})
			go w.execute(a, started)
			// Wait until the handler is about to run, so the next attempt
			// cannot start first.
			<-started
		case <-a.ctx.Done():
			// The attempt ended before a slot freed up; the server needs a
			// result only for a client's cancel.
			finished := finishedAttempt{attempt: a}
			if errors.Is(context.Cause(a.ctx), ErrCancelRequested) {
				finished.result = &pb.AttemptResult{WorkId: a.key.workID, Attempt: a.key.attempt,
					Outcome: failure("canceled before the handler started", false)}
			}
			go w.deliver(finished)
		case <-w.done:
			return
		}
	}
}

func (w *Worker) enqueueAttempt(a *attempt) {
	w.queueMu.Lock()
	w.queue = append(w.queue, a)
	w.queueMu.Unlock()
	select {
	case w.queued <- struct{}{}:
	default:
	}
}

// nextQueued returns the oldest queued attempt, waiting for one, or nil
// once Run has returned.
func (w *Worker) nextQueued() *attempt {
	for {
		w.queueMu.Lock()
		if len(w.queue) > 0 {
			a := w.queue[0]
			w.queue[0] = nil
			w.queue = w.queue[1:]
			w.queueMu.Unlock()
			return a
		}
		w.queueMu.Unlock()
		select {
		case <-w.queued:
		case <-w.done:
			return nil
		}
	}
}

// execute runs one handler in a slot that dispatch acquired, then hands
// the result to the session loop.
func (w *Worker) execute(a *attempt, started chan<- struct{}) {
	close(started)
	finished := finishedAttempt{attempt: a, result: callHandler(a.ctx, a.handler, a.task)}
	<-w.slots
	if failure := finished.result.GetFailure(); failure != nil {
		w.logger.Warn("workpool: handler failed", append(a.logAttrs(),
			"error", failure.GetError(), "non_retryable", failure.GetNonRetryable())...)
	}
	w.deliver(finished)
}

func (w *Worker) deliver(finished finishedAttempt) {
	select {
	case w.results <- finished:
	case <-w.done:
	}
}

func (w *Worker) handleFinished(finished finishedAttempt) {
	a := finished.attempt
	s := a.session
	delete(s.running, a.key)
	a.cancel(nil)
	switch {
	case s.closed:
		if finished.result != nil {
			w.logger.Warn("workpool: result dropped because its worker stream closed", a.logAttrs()...)
		}
	case a.leaseLost:
		w.logger.Info("workpool: result dropped because the lease was lost", a.logAttrs()...)
		w.grantCredit(s)
	default:
		if finished.result != nil {
			s.results = append(s.results, finished.result)
			s.unacked[a.key] = true
		}
		w.grantCredit(s)
	}
}

// grantCredit returns one slot to the server, except while stopping, so the
// server assigns a stopping worker nothing beyond the credit it holds.
func (w *Worker) grantCredit(s *session) {
	if !w.isStopping() {
		s.credit++
	}
}

// endSession marks the session closed and cancels the contexts of its
// running handlers, because the server has already ended their attempts as
// "worker lost".
func (w *Worker) endSession(s *session) {
	s.closed = true
	if len(s.running) > 0 {
		w.logger.Warn("workpool: worker stream closed with attempts running; their results will be dropped",
			"worker_id", s.workerID, "work_ids", runningIDs(s))
	}
	for _, a := range s.running {
		a.cancel(ErrWorkerStopped)
	}
}

func runningIDs(s *session) []string {
	ids := make([]string, 0, len(s.running))
	for key := range s.running {
		ids = append(ids, key.workID)
	}
	sort.Strings(ids)
	return ids
}

func (a *attempt) logAttrs() []any {
	return []any{"work_id", a.key.workID, "attempt", a.key.attempt, "function", a.task.Function,
		"pool", a.task.Pool, "worker_id", a.session.workerID}
}
