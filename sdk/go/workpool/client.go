package workpool

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/keepalive"

	pb "github.com/workpool/workpool/sdk/go/gen/workpool/v1"
)

// MaxMessageBytes is the send and receive limit of connections that NewConn
// opens.
const MaxMessageBytes = 64 << 20

// DefaultCallTimeout is the deadline of a unary call whose context has none.
const DefaultCallTimeout = 30 * time.Second

// NewConn opens a connection with the SDK's defaults: plaintext, keepalive
// pings every 30 s even without calls (the server accepts one every 20 s or
// more, so it never replies "too many pings"), and 64 MiB message limits.
// Options in extra come after the defaults and override them, such as
// grpc.WithTransportCredentials for TLS.
func NewConn(target string, extra ...grpc.DialOption) (*grpc.ClientConn, error) {
	if target == "" {
		return nil, errors.New("workpool: target is empty; pass a server address such as 127.0.0.1:50051")
	}
	options := []grpc.DialOption{
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithKeepaliveParams(keepalive.ClientParameters{
			Time:                30 * time.Second,
			Timeout:             10 * time.Second,
			PermitWithoutStream: true,
		}),
		grpc.WithDefaultCallOptions(
			grpc.MaxCallRecvMsgSize(MaxMessageBytes),
			grpc.MaxCallSendMsgSize(MaxMessageBytes),
		),
	}
	conn, err := grpc.NewClient(target, append(options, extra...)...)
	if err != nil {
		return nil, fmt.Errorf("workpool: open connection to %s: %w", target, err)
	}
	return conn, nil
}

// ClientOption configures a Client.
type ClientOption func(*Client)

// WithCallTimeout sets the deadline of unary calls whose context has none;
// 0 means no deadline. The default is DefaultCallTimeout.
func WithCallTimeout(d time.Duration) ClientOption {
	return func(c *Client) { c.timeout = d }
}

// WithLogger sets the logger of the client's watch reconnects. The default
// is slog.Default().
func WithLogger(logger *slog.Logger) ClientOption {
	return func(c *Client) { c.logger = logger }
}

// Client enqueues work, reads its status, cancels it, watches completions
// and manages pools. It is safe for concurrent use.
type Client struct {
	work    pb.WorkpoolServiceClient
	pools   pb.PoolServiceClient
	conn    *grpc.ClientConn
	timeout time.Duration
	logger  *slog.Logger
	backoff func() *backoff

	dialOptions []grpc.DialOption
}

// NewClient returns a client on an existing connection, which the caller
// keeps and closes.
func NewClient(conn grpc.ClientConnInterface, opts ...ClientOption) *Client {
	c := &Client{
		work:    pb.NewWorkpoolServiceClient(conn),
		pools:   pb.NewPoolServiceClient(conn),
		timeout: DefaultCallTimeout,
		logger:  slog.Default(),
		backoff: func() *backoff { return newBackoff(200*time.Millisecond, 10*time.Second) },
	}
	for _, opt := range opts {
		opt(c)
	}
	return c
}

// WithDialOptions passes options to the connection that Dial opens, such as
// WithTLS and WithToken. A client made by NewClient ignores them.
func WithDialOptions(options ...grpc.DialOption) ClientOption {
	return func(c *Client) { c.dialOptions = append(c.dialOptions, options...) }
}

// Dial opens a connection with NewConn and returns a client that owns it;
// Close closes it.
func Dial(target string, opts ...ClientOption) (*Client, error) {
	settings := &Client{}
	for _, opt := range opts {
		opt(settings)
	}
	conn, err := NewConn(target, settings.dialOptions...)
	if err != nil {
		return nil, err
	}
	c := NewClient(conn, opts...)
	c.conn = conn
	return c, nil
}

// Close closes the connection if Dial opened it.
func (c *Client) Close() error {
	if c.conn == nil {
		return nil
	}
	return c.conn.Close()
}

func (c *Client) callContext(ctx context.Context) (context.Context, context.CancelFunc) {
	if _, has := ctx.Deadline(); has || c.timeout <= 0 {
		return ctx, func() {}
	}
	return context.WithTimeout(ctx, c.timeout)
}

// unary runs one call with the client's deadline and maps its error.
func unary[Req, Resp any](c *Client, ctx context.Context, call func(context.Context, Req, ...grpc.CallOption) (Resp, error), request Req) (Resp, error) {
	ctx, cancel := c.callContext(ctx)
	defer cancel()
	response, err := call(ctx, request)
	return response, fromRPC(err)
}

// Enqueue adds one call of function with args to pool. args is any
// JSON-like value (see ToValue). It returns ErrNotFound when the pool does
// not exist and ErrInvalidArgument naming the field for a bad spec.
func (c *Client) Enqueue(ctx context.Context, pool, function string, args any, opts ...EnqueueOption) (*EnqueueResult, error) {
	if err := checkPoolName(pool, "pool"); err != nil {
		return nil, err
	}
	spec, err := workSpec(function, args, opts, "work")
	if err != nil {
		return nil, err
	}
	response, err := unary(c, ctx, c.work.Enqueue, &pb.EnqueueRequest{Pool: pool, Work: spec})
	if err != nil {
		return nil, err
	}
	return &EnqueueResult{
		WorkID:             response.GetWorkId(),
		Deduplicated:       response.GetDeduplicated(),
		CompletionSequence: response.GetCompletionSequence(),
	}, nil
}

// EnqueueBatch adds several items to one pool, all or none. Field
// violations name the item's index, such as "work[3].args".
func (c *Client) EnqueueBatch(ctx context.Context, pool string, items []WorkItem) (*EnqueueBatchResult, error) {
	if err := checkPoolName(pool, "pool"); err != nil {
		return nil, err
	}
	request := &pb.EnqueueBatchRequest{Pool: pool, Work: make([]*pb.WorkSpec, len(items))}
	for i, item := range items {
		spec, err := workSpec(item.Function, item.Args, item.Options, fmt.Sprintf("work[%d]", i))
		if err != nil {
			return nil, err
		}
		request.Work[i] = spec
	}
	response, err := unary(c, ctx, c.work.EnqueueBatch, request)
	if err != nil {
		return nil, err
	}
	return &EnqueueBatchResult{WorkIDs: response.GetWorkIds(), CompletionSequence: response.GetCompletionSequence()}, nil
}

// Status returns a work item's status, or ErrNotFound when the id was never
// issued or its status expired.
func (c *Client) Status(ctx context.Context, workID string) (*WorkStatus, error) {
	response, err := unary(c, ctx, c.work.Status, &pb.StatusRequest{WorkId: workID})
	if err != nil {
		return nil, err
	}
	return statusFromProto(response.GetStatus()), nil
}

// StatusBatch returns the status of several items in order; unknown ids get
// StateNotFound.
func (c *Client) StatusBatch(ctx context.Context, workIDs []string) ([]*WorkStatus, error) {
	response, err := unary(c, ctx, c.work.StatusBatch, &pb.StatusBatchRequest{WorkIds: workIDs})
	if err != nil {
		return nil, err
	}
	statuses := make([]*WorkStatus, len(response.GetStatuses()))
	for i, s := range response.GetStatuses() {
		statuses[i] = statusFromProto(s)
	}
	return statuses, nil
}

// Cancel cancels a work item and returns what the cancel did.
func (c *Client) Cancel(ctx context.Context, workID string) (CancelOutcome, error) {
	response, err := unary(c, ctx, c.work.Cancel, &pb.CancelRequest{WorkId: workID})
	if err != nil {
		return CancelUnspecified, err
	}
	return CancelOutcome(response.GetOutcome()), nil
}

// CancelAll cancels every item of pool enqueued before the call, follow-ups
// excepted.
func (c *Client) CancelAll(ctx context.Context, pool string) (*CancelAllResult, error) {
	response, err := unary(c, ctx, c.work.CancelAll, &pb.CancelAllRequest{Pool: pool})
	if err != nil {
		return nil, err
	}
	return &CancelAllResult{Canceled: response.GetCanceledCount(), CancelRequested: response.GetCancelRequestedCount()}, nil
}

// CreatePool creates a pool; settings not given take the server's defaults.
// It returns ErrAlreadyExists when a pool of that name exists.
func (c *Client) CreatePool(ctx context.Context, name string, opts ...PoolOption) (*Pool, error) {
	pool, _, err := poolToProto(name, collectPool(opts))
	if err != nil {
		return nil, err
	}
	response, err := unary(c, ctx, c.pools.CreatePool, &pb.CreatePoolRequest{Pool: pool})
	if err != nil {
		return nil, err
	}
	return poolFromProto(response.GetPool(), nil), nil
}

// GetPool returns a pool with its counts of pending and running items.
func (c *Client) GetPool(ctx context.Context, name string) (*Pool, error) {
	response, err := unary(c, ctx, c.pools.GetPool, &pb.GetPoolRequest{Name: name})
	if err != nil {
		return nil, err
	}
	return poolFromProto(response.GetPool(), response.GetStats()), nil
}

// ListPools returns every pool in name order, reading all pages.
func (c *Client) ListPools(ctx context.Context) ([]*Pool, error) {
	var pools []*Pool
	token := ""
	for {
		response, err := unary(c, ctx, c.pools.ListPools, &pb.ListPoolsRequest{PageToken: token})
		if err != nil {
			return nil, err
		}
		for _, p := range response.GetPools() {
			pools = append(pools, poolFromProto(p, nil))
		}
		token = response.GetNextPageToken()
		if token == "" {
			return pools, nil
		}
	}
}

// UpdatePool changes the given settings of a pool and leaves the others
// alone: the update mask lists exactly the options passed.
func (c *Client) UpdatePool(ctx context.Context, name string, opts ...PoolOption) (*Pool, error) {
	request, err := updatePoolRequest(name, collectPool(opts))
	if err != nil {
		return nil, err
	}
	response, err := unary(c, ctx, c.pools.UpdatePool, request)
	if err != nil {
		return nil, err
	}
	return poolFromProto(response.GetPool(), nil), nil
}

// DeletePool deletes a pool. It returns ErrFailedPrecondition while the pool
// has pending or running items.
func (c *Client) DeletePool(ctx context.Context, name string) error {
	_, err := unary(c, ctx, c.pools.DeletePool, &pb.DeletePoolRequest{Name: name})
	return err
}

// EnsurePool creates the pool if it is missing, or else updates the given
// settings that differ. Settings not given are not compared.
func (c *Client) EnsurePool(ctx context.Context, name string, opts ...PoolOption) (*Pool, error) {
	want := collectPool(opts)
	if _, _, err := poolToProto(name, want); err != nil {
		return nil, err
	}
	current, err := c.GetPool(ctx, name)
	if errors.Is(err, ErrNotFound) {
		created, err := c.CreatePool(ctx, name, opts...)
		if !errors.Is(err, ErrAlreadyExists) {
			return created, err
		}
		// Another process created it between the two calls.
		current, err = c.GetPool(ctx, name)
		if err != nil {
			return nil, err
		}
	} else if err != nil {
		return nil, err
	}

	changed, differs := poolDiffers(current, want)
	if !differs {
		return current, nil
	}
	request, err := updatePoolRequest(name, changed)
	if err != nil {
		return nil, err
	}
	response, err := unary(c, ctx, c.pools.UpdatePool, request)
	if err != nil {
		return nil, err
	}
	return poolFromProto(response.GetPool(), nil), nil
}
