package workpool

import (
	"context"
	"errors"
	"io"
	"iter"

	"google.golang.org/grpc/codes"

	pb "github.com/workpool/workpool/sdk/go/gen/workpool/v1"
)

// watchCursor is the position of a watch in the completion log. last starts
// at the caller's WatchAfter sequence; without one, the first response sets
// it to the log's head, so a reconnect replays what happened in between.
type watchCursor struct {
	connected func(headSequence int64)
	pools     []string
	workIDs   []string
	hasLast   bool
	last      int64
}

func (w *watchCursor) request() *pb.WatchCompletionsRequest {
	request := &pb.WatchCompletionsRequest{Pools: w.pools, WorkIds: w.workIDs}
	if w.hasLast {
		last := w.last
		request.AfterSequence = &last
	}
	return request
}

// accept returns the response's completions not delivered before and
// advances the cursor past them.
func (w *watchCursor) accept(response *pb.WatchCompletionsResponse) []*Completion {
	var fresh []*Completion
	for _, message := range response.GetCompletions() {
		// A replay after a reconnect may repeat entries already delivered.
		if w.hasLast && message.GetSequence() <= w.last {
			continue
		}
		fresh = append(fresh, completionFromProto(message))
		w.hasLast, w.last = true, message.GetSequence()
	}
	if !w.hasLast {
		w.hasLast, w.last = true, response.GetHeadSequence()
	}
	return fresh
}

// WatchCompletions returns an endless iterator over completions of the log,
// in sequence order. Without options it follows every pool from the log's
// end as of its first connection; see WatchPools, WatchWorkIDs and
// WatchAfter.
//
// When the server shuts down or the connection breaks (UNAVAILABLE, or a
// stream that ends without a status), the iterator reconnects with capped
// exponential backoff and resumes after the last completion it yielded, so
// it never yields a sequence twice. Any other error is yielded once as
// (nil, err) and ends the iteration: ErrOutOfRange when retention already
// removed entries after the WatchAfter sequence, and ctx.Err() when ctx is
// done. Leave the loop, or cancel ctx, to stop:
//
//	for completion, err := range client.WatchCompletions(ctx, workpool.WatchPools("emails")) {
//		if err != nil {
//			return err
//		}
//		fmt.Println(completion.WorkID, completion.Result)
//	}
func (c *Client) WatchCompletions(ctx context.Context, opts ...WatchOption) iter.Seq2[*Completion, error] {
	settings := &watchSettings{}
	for _, opt := range opts {
		if opt != nil {
			opt(settings)
		}
	}
	cursor := &watchCursor{
		connected: settings.connected,
		pools:     settings.pools,
		workIDs:   settings.workIDs,
		hasLast:   settings.hasAfter,
		last:      settings.after,
	}
	return func(yield func(*Completion, error) bool) {
		if settings.hasAfter && settings.after < 0 {
			yield(nil, invalidArgument("after_sequence", "WatchAfter sequence is %d; use 0 or more (0 replays the whole log)", settings.after))
			return
		}
		c.watch(ctx, cursor, yield)
	}
}

func (c *Client) watch(ctx context.Context, cursor *watchCursor, yield func(*Completion, error) bool) {
	retry := c.backoff()
	for {
		err := c.watchOnce(ctx, cursor, retry, yield)
		if errors.Is(err, errStopIteration) {
			return
		}
		if ctx.Err() != nil {
			yield(nil, ctx.Err())
			return
		}
		if err != nil && Code(err) != codes.Unavailable {
			yield(nil, err)
			return
		}
		delay := retry.next()
		c.logger.Info("workpool: completion watch interrupted; reconnecting",
			"error", err, "after_sequence", cursor.last, "delay", delay)
		if !sleep(ctx, delay) {
			yield(nil, ctx.Err())
			return
		}
	}
}

var errStopIteration = errors.New("stop iteration")

// watchOnce runs one stream until it fails. It returns nil when the server
// ended the stream without an error.
func (c *Client) watchOnce(ctx context.Context, cursor *watchCursor, retry *backoff, yield func(*Completion, error) bool) error {
	streamCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	stream, err := c.work.WatchCompletions(streamCtx, cursor.request())
	if err != nil {
		return fromRPC(err)
	}
	first := true
	for {
		response, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fromRPC(err)
		}
		retry.reset()
		if first && cursor.connected != nil {
			cursor.connected(response.GetHeadSequence())
		}
		first = false
		for _, completion := range cursor.accept(response) {
			if !yield(completion, nil) {
				return errStopIteration
			}
		}
	}
}
