package dev.workpool.v1;

import static io.grpc.MethodDescriptor.generateFullMethodName;

/**
 * <pre>
 * WorkpoolService enqueues work, reports its status, cancels it and streams
 * completions.
 * </pre>
 */
@io.grpc.stub.annotations.GrpcGenerated
public final class WorkpoolServiceGrpc {

  private WorkpoolServiceGrpc() {}

  public static final java.lang.String SERVICE_NAME = "workpool.v1.WorkpoolService";

  // Static method descriptors that strictly reflect the proto.
  private static volatile io.grpc.MethodDescriptor<dev.workpool.v1.EnqueueRequest,
      dev.workpool.v1.EnqueueResponse> getEnqueueMethod;

  @io.grpc.stub.annotations.RpcMethod(
      fullMethodName = SERVICE_NAME + '/' + "Enqueue",
      requestType = dev.workpool.v1.EnqueueRequest.class,
      responseType = dev.workpool.v1.EnqueueResponse.class,
      methodType = io.grpc.MethodDescriptor.MethodType.UNARY)
  public static io.grpc.MethodDescriptor<dev.workpool.v1.EnqueueRequest,
      dev.workpool.v1.EnqueueResponse> getEnqueueMethod() {
    io.grpc.MethodDescriptor<dev.workpool.v1.EnqueueRequest, dev.workpool.v1.EnqueueResponse> getEnqueueMethod;
    if ((getEnqueueMethod = WorkpoolServiceGrpc.getEnqueueMethod) == null) {
      synchronized (WorkpoolServiceGrpc.class) {
        if ((getEnqueueMethod = WorkpoolServiceGrpc.getEnqueueMethod) == null) {
          WorkpoolServiceGrpc.getEnqueueMethod = getEnqueueMethod =
              io.grpc.MethodDescriptor.<dev.workpool.v1.EnqueueRequest, dev.workpool.v1.EnqueueResponse>newBuilder()
              .setType(io.grpc.MethodDescriptor.MethodType.UNARY)
              .setFullMethodName(generateFullMethodName(SERVICE_NAME, "Enqueue"))
              .setSampledToLocalTracing(true)
              .setRequestMarshaller(io.grpc.protobuf.ProtoUtils.marshaller(
                  dev.workpool.v1.EnqueueRequest.getDefaultInstance()))
              .setResponseMarshaller(io.grpc.protobuf.ProtoUtils.marshaller(
                  dev.workpool.v1.EnqueueResponse.getDefaultInstance()))
              .setSchemaDescriptor(new WorkpoolServiceMethodDescriptorSupplier("Enqueue"))
              .build();
        }
      }
    }
    return getEnqueueMethod;
  }

  private static volatile io.grpc.MethodDescriptor<dev.workpool.v1.EnqueueBatchRequest,
      dev.workpool.v1.EnqueueBatchResponse> getEnqueueBatchMethod;

  @io.grpc.stub.annotations.RpcMethod(
      fullMethodName = SERVICE_NAME + '/' + "EnqueueBatch",
      requestType = dev.workpool.v1.EnqueueBatchRequest.class,
      responseType = dev.workpool.v1.EnqueueBatchResponse.class,
      methodType = io.grpc.MethodDescriptor.MethodType.UNARY)
  public static io.grpc.MethodDescriptor<dev.workpool.v1.EnqueueBatchRequest,
      dev.workpool.v1.EnqueueBatchResponse> getEnqueueBatchMethod() {
    io.grpc.MethodDescriptor<dev.workpool.v1.EnqueueBatchRequest, dev.workpool.v1.EnqueueBatchResponse> getEnqueueBatchMethod;
    if ((getEnqueueBatchMethod = WorkpoolServiceGrpc.getEnqueueBatchMethod) == null) {
      synchronized (WorkpoolServiceGrpc.class) {
        if ((getEnqueueBatchMethod = WorkpoolServiceGrpc.getEnqueueBatchMethod) == null) {
          WorkpoolServiceGrpc.getEnqueueBatchMethod = getEnqueueBatchMethod =
              io.grpc.MethodDescriptor.<dev.workpool.v1.EnqueueBatchRequest, dev.workpool.v1.EnqueueBatchResponse>newBuilder()
              .setType(io.grpc.MethodDescriptor.MethodType.UNARY)
              .setFullMethodName(generateFullMethodName(SERVICE_NAME, "EnqueueBatch"))
              .setSampledToLocalTracing(true)
              .setRequestMarshaller(io.grpc.protobuf.ProtoUtils.marshaller(
                  dev.workpool.v1.EnqueueBatchRequest.getDefaultInstance()))
              .setResponseMarshaller(io.grpc.protobuf.ProtoUtils.marshaller(
                  dev.workpool.v1.EnqueueBatchResponse.getDefaultInstance()))
              .setSchemaDescriptor(new WorkpoolServiceMethodDescriptorSupplier("EnqueueBatch"))
              .build();
        }
      }
    }
    return getEnqueueBatchMethod;
  }

  private static volatile io.grpc.MethodDescriptor<dev.workpool.v1.StatusRequest,
      dev.workpool.v1.StatusResponse> getStatusMethod;

  @io.grpc.stub.annotations.RpcMethod(
      fullMethodName = SERVICE_NAME + '/' + "Status",
      requestType = dev.workpool.v1.StatusRequest.class,
      responseType = dev.workpool.v1.StatusResponse.class,
      methodType = io.grpc.MethodDescriptor.MethodType.UNARY)
  public static io.grpc.MethodDescriptor<dev.workpool.v1.StatusRequest,
      dev.workpool.v1.StatusResponse> getStatusMethod() {
    io.grpc.MethodDescriptor<dev.workpool.v1.StatusRequest, dev.workpool.v1.StatusResponse> getStatusMethod;
    if ((getStatusMethod = WorkpoolServiceGrpc.getStatusMethod) == null) {
      synchronized (WorkpoolServiceGrpc.class) {
        if ((getStatusMethod = WorkpoolServiceGrpc.getStatusMethod) == null) {
          WorkpoolServiceGrpc.getStatusMethod = getStatusMethod =
              io.grpc.MethodDescriptor.<dev.workpool.v1.StatusRequest, dev.workpool.v1.StatusResponse>newBuilder()
              .setType(io.grpc.MethodDescriptor.MethodType.UNARY)
              .setFullMethodName(generateFullMethodName(SERVICE_NAME, "Status"))
              .setSampledToLocalTracing(true)
              .setRequestMarshaller(io.grpc.protobuf.ProtoUtils.marshaller(
                  dev.workpool.v1.StatusRequest.getDefaultInstance()))
              .setResponseMarshaller(io.grpc.protobuf.ProtoUtils.marshaller(
                  dev.workpool.v1.StatusResponse.getDefaultInstance()))
              .setSchemaDescriptor(new WorkpoolServiceMethodDescriptorSupplier("Status"))
              .build();
        }
      }
    }
    return getStatusMethod;
  }

  private static volatile io.grpc.MethodDescriptor<dev.workpool.v1.StatusBatchRequest,
      dev.workpool.v1.StatusBatchResponse> getStatusBatchMethod;

  @io.grpc.stub.annotations.RpcMethod(
      fullMethodName = SERVICE_NAME + '/' + "StatusBatch",
      requestType = dev.workpool.v1.StatusBatchRequest.class,
      responseType = dev.workpool.v1.StatusBatchResponse.class,
      methodType = io.grpc.MethodDescriptor.MethodType.UNARY)
  public static io.grpc.MethodDescriptor<dev.workpool.v1.StatusBatchRequest,
      dev.workpool.v1.StatusBatchResponse> getStatusBatchMethod() {
    io.grpc.MethodDescriptor<dev.workpool.v1.StatusBatchRequest, dev.workpool.v1.StatusBatchResponse> getStatusBatchMethod;
    if ((getStatusBatchMethod = WorkpoolServiceGrpc.getStatusBatchMethod) == null) {
      synchronized (WorkpoolServiceGrpc.class) {
        if ((getStatusBatchMethod = WorkpoolServiceGrpc.getStatusBatchMethod) == null) {
          WorkpoolServiceGrpc.getStatusBatchMethod = getStatusBatchMethod =
              io.grpc.MethodDescriptor.<dev.workpool.v1.StatusBatchRequest, dev.workpool.v1.StatusBatchResponse>newBuilder()
              .setType(io.grpc.MethodDescriptor.MethodType.UNARY)
              .setFullMethodName(generateFullMethodName(SERVICE_NAME, "StatusBatch"))
              .setSampledToLocalTracing(true)
              .setRequestMarshaller(io.grpc.protobuf.ProtoUtils.marshaller(
                  dev.workpool.v1.StatusBatchRequest.getDefaultInstance()))
              .setResponseMarshaller(io.grpc.protobuf.ProtoUtils.marshaller(
                  dev.workpool.v1.StatusBatchResponse.getDefaultInstance()))
              .setSchemaDescriptor(new WorkpoolServiceMethodDescriptorSupplier("StatusBatch"))
              .build();
        }
      }
    }
    return getStatusBatchMethod;
  }

  private static volatile io.grpc.MethodDescriptor<dev.workpool.v1.CancelRequest,
      dev.workpool.v1.CancelResponse> getCancelMethod;

  @io.grpc.stub.annotations.RpcMethod(
      fullMethodName = SERVICE_NAME + '/' + "Cancel",
      requestType = dev.workpool.v1.CancelRequest.class,
      responseType = dev.workpool.v1.CancelResponse.class,
      methodType = io.grpc.MethodDescriptor.MethodType.UNARY)
  public static io.grpc.MethodDescriptor<dev.workpool.v1.CancelRequest,
      dev.workpool.v1.CancelResponse> getCancelMethod() {
    io.grpc.MethodDescriptor<dev.workpool.v1.CancelRequest, dev.workpool.v1.CancelResponse> getCancelMethod;
    if ((getCancelMethod = WorkpoolServiceGrpc.getCancelMethod) == null) {
      synchronized (WorkpoolServiceGrpc.class) {
        if ((getCancelMethod = WorkpoolServiceGrpc.getCancelMethod) == null) {
          WorkpoolServiceGrpc.getCancelMethod = getCancelMethod =
              io.grpc.MethodDescriptor.<dev.workpool.v1.CancelRequest, dev.workpool.v1.CancelResponse>newBuilder()
              .setType(io.grpc.MethodDescriptor.MethodType.UNARY)
              .setFullMethodName(generateFullMethodName(SERVICE_NAME, "Cancel"))
              .setSampledToLocalTracing(true)
              .setRequestMarshaller(io.grpc.protobuf.ProtoUtils.marshaller(
                  dev.workpool.v1.CancelRequest.getDefaultInstance()))
              .setResponseMarshaller(io.grpc.protobuf.ProtoUtils.marshaller(
                  dev.workpool.v1.CancelResponse.getDefaultInstance()))
              .setSchemaDescriptor(new WorkpoolServiceMethodDescriptorSupplier("Cancel"))
              .build();
        }
      }
    }
    return getCancelMethod;
  }

  private static volatile io.grpc.MethodDescriptor<dev.workpool.v1.CancelAllRequest,
      dev.workpool.v1.CancelAllResponse> getCancelAllMethod;

  @io.grpc.stub.annotations.RpcMethod(
      fullMethodName = SERVICE_NAME + '/' + "CancelAll",
      requestType = dev.workpool.v1.CancelAllRequest.class,
      responseType = dev.workpool.v1.CancelAllResponse.class,
      methodType = io.grpc.MethodDescriptor.MethodType.UNARY)
  public static io.grpc.MethodDescriptor<dev.workpool.v1.CancelAllRequest,
      dev.workpool.v1.CancelAllResponse> getCancelAllMethod() {
    io.grpc.MethodDescriptor<dev.workpool.v1.CancelAllRequest, dev.workpool.v1.CancelAllResponse> getCancelAllMethod;
    if ((getCancelAllMethod = WorkpoolServiceGrpc.getCancelAllMethod) == null) {
      synchronized (WorkpoolServiceGrpc.class) {
        if ((getCancelAllMethod = WorkpoolServiceGrpc.getCancelAllMethod) == null) {
          WorkpoolServiceGrpc.getCancelAllMethod = getCancelAllMethod =
              io.grpc.MethodDescriptor.<dev.workpool.v1.CancelAllRequest, dev.workpool.v1.CancelAllResponse>newBuilder()
              .setType(io.grpc.MethodDescriptor.MethodType.UNARY)
              .setFullMethodName(generateFullMethodName(SERVICE_NAME, "CancelAll"))
              .setSampledToLocalTracing(true)
              .setRequestMarshaller(io.grpc.protobuf.ProtoUtils.marshaller(
                  dev.workpool.v1.CancelAllRequest.getDefaultInstance()))
              .setResponseMarshaller(io.grpc.protobuf.ProtoUtils.marshaller(
                  dev.workpool.v1.CancelAllResponse.getDefaultInstance()))
              .setSchemaDescriptor(new WorkpoolServiceMethodDescriptorSupplier("CancelAll"))
              .build();
        }
      }
    }
    return getCancelAllMethod;
  }

  private static volatile io.grpc.MethodDescriptor<dev.workpool.v1.WatchCompletionsRequest,
      dev.workpool.v1.WatchCompletionsResponse> getWatchCompletionsMethod;

  @io.grpc.stub.annotations.RpcMethod(
      fullMethodName = SERVICE_NAME + '/' + "WatchCompletions",
      requestType = dev.workpool.v1.WatchCompletionsRequest.class,
      responseType = dev.workpool.v1.WatchCompletionsResponse.class,
      methodType = io.grpc.MethodDescriptor.MethodType.SERVER_STREAMING)
  public static io.grpc.MethodDescriptor<dev.workpool.v1.WatchCompletionsRequest,
      dev.workpool.v1.WatchCompletionsResponse> getWatchCompletionsMethod() {
    io.grpc.MethodDescriptor<dev.workpool.v1.WatchCompletionsRequest, dev.workpool.v1.WatchCompletionsResponse> getWatchCompletionsMethod;
    if ((getWatchCompletionsMethod = WorkpoolServiceGrpc.getWatchCompletionsMethod) == null) {
      synchronized (WorkpoolServiceGrpc.class) {
        if ((getWatchCompletionsMethod = WorkpoolServiceGrpc.getWatchCompletionsMethod) == null) {
          WorkpoolServiceGrpc.getWatchCompletionsMethod = getWatchCompletionsMethod =
              io.grpc.MethodDescriptor.<dev.workpool.v1.WatchCompletionsRequest, dev.workpool.v1.WatchCompletionsResponse>newBuilder()
              .setType(io.grpc.MethodDescriptor.MethodType.SERVER_STREAMING)
              .setFullMethodName(generateFullMethodName(SERVICE_NAME, "WatchCompletions"))
              .setSampledToLocalTracing(true)
              .setRequestMarshaller(io.grpc.protobuf.ProtoUtils.marshaller(
                  dev.workpool.v1.WatchCompletionsRequest.getDefaultInstance()))
              .setResponseMarshaller(io.grpc.protobuf.ProtoUtils.marshaller(
                  dev.workpool.v1.WatchCompletionsResponse.getDefaultInstance()))
              .setSchemaDescriptor(new WorkpoolServiceMethodDescriptorSupplier("WatchCompletions"))
              .build();
        }
      }
    }
    return getWatchCompletionsMethod;
  }

  private static volatile io.grpc.MethodDescriptor<dev.workpool.v1.ExplainRequest,
      dev.workpool.v1.ExplainResponse> getExplainMethod;

  @io.grpc.stub.annotations.RpcMethod(
      fullMethodName = SERVICE_NAME + '/' + "Explain",
      requestType = dev.workpool.v1.ExplainRequest.class,
      responseType = dev.workpool.v1.ExplainResponse.class,
      methodType = io.grpc.MethodDescriptor.MethodType.UNARY)
  public static io.grpc.MethodDescriptor<dev.workpool.v1.ExplainRequest,
      dev.workpool.v1.ExplainResponse> getExplainMethod() {
    io.grpc.MethodDescriptor<dev.workpool.v1.ExplainRequest, dev.workpool.v1.ExplainResponse> getExplainMethod;
    if ((getExplainMethod = WorkpoolServiceGrpc.getExplainMethod) == null) {
      synchronized (WorkpoolServiceGrpc.class) {
        if ((getExplainMethod = WorkpoolServiceGrpc.getExplainMethod) == null) {
          WorkpoolServiceGrpc.getExplainMethod = getExplainMethod =
              io.grpc.MethodDescriptor.<dev.workpool.v1.ExplainRequest, dev.workpool.v1.ExplainResponse>newBuilder()
              .setType(io.grpc.MethodDescriptor.MethodType.UNARY)
              .setFullMethodName(generateFullMethodName(SERVICE_NAME, "Explain"))
              .setSampledToLocalTracing(true)
              .setRequestMarshaller(io.grpc.protobuf.ProtoUtils.marshaller(
                  dev.workpool.v1.ExplainRequest.getDefaultInstance()))
              .setResponseMarshaller(io.grpc.protobuf.ProtoUtils.marshaller(
                  dev.workpool.v1.ExplainResponse.getDefaultInstance()))
              .setSchemaDescriptor(new WorkpoolServiceMethodDescriptorSupplier("Explain"))
              .build();
        }
      }
    }
    return getExplainMethod;
  }

  /**
   * Creates a new async stub that supports all call types for the service
   */
  public static WorkpoolServiceStub newStub(io.grpc.Channel channel) {
    io.grpc.stub.AbstractStub.StubFactory<WorkpoolServiceStub> factory =
      new io.grpc.stub.AbstractStub.StubFactory<WorkpoolServiceStub>() {
        @java.lang.Override
        public WorkpoolServiceStub newStub(io.grpc.Channel channel, io.grpc.CallOptions callOptions) {
          return new WorkpoolServiceStub(channel, callOptions);
        }
      };
    return WorkpoolServiceStub.newStub(factory, channel);
  }

  /**
   * Creates a new blocking-style stub that supports all types of calls on the service
   */
  public static WorkpoolServiceBlockingV2Stub newBlockingV2Stub(
      io.grpc.Channel channel) {
    io.grpc.stub.AbstractStub.StubFactory<WorkpoolServiceBlockingV2Stub> factory =
      new io.grpc.stub.AbstractStub.StubFactory<WorkpoolServiceBlockingV2Stub>() {
        @java.lang.Override
        public WorkpoolServiceBlockingV2Stub newStub(io.grpc.Channel channel, io.grpc.CallOptions callOptions) {
          return new WorkpoolServiceBlockingV2Stub(channel, callOptions);
        }
      };
    return WorkpoolServiceBlockingV2Stub.newStub(factory, channel);
  }

  /**
   * Creates a new blocking-style stub that supports unary and streaming output calls on the service
   */
  public static WorkpoolServiceBlockingStub newBlockingStub(
      io.grpc.Channel channel) {
    io.grpc.stub.AbstractStub.StubFactory<WorkpoolServiceBlockingStub> factory =
      new io.grpc.stub.AbstractStub.StubFactory<WorkpoolServiceBlockingStub>() {
        @java.lang.Override
        public WorkpoolServiceBlockingStub newStub(io.grpc.Channel channel, io.grpc.CallOptions callOptions) {
          return new WorkpoolServiceBlockingStub(channel, callOptions);
        }
      };
    return WorkpoolServiceBlockingStub.newStub(factory, channel);
  }

  /**
   * Creates a new ListenableFuture-style stub that supports unary calls on the service
   */
  public static WorkpoolServiceFutureStub newFutureStub(
      io.grpc.Channel channel) {
    io.grpc.stub.AbstractStub.StubFactory<WorkpoolServiceFutureStub> factory =
      new io.grpc.stub.AbstractStub.StubFactory<WorkpoolServiceFutureStub>() {
        @java.lang.Override
        public WorkpoolServiceFutureStub newStub(io.grpc.Channel channel, io.grpc.CallOptions callOptions) {
          return new WorkpoolServiceFutureStub(channel, callOptions);
        }
      };
    return WorkpoolServiceFutureStub.newStub(factory, channel);
  }

  /**
   * <pre>
   * WorkpoolService enqueues work, reports its status, cancels it and streams
   * completions.
   * </pre>
   */
  public interface AsyncService {

    /**
     * <pre>
     * Enqueue adds one work item to a pool. It returns NOT_FOUND when the pool
     * does not exist, INVALID_ARGUMENT or RESOURCE_EXHAUSTED naming the field
     * when the spec breaks a rule or a size limit, and the existing id when the
     * idempotency key was used before in the pool.
     * </pre>
     */
    default void enqueue(dev.workpool.v1.EnqueueRequest request,
        io.grpc.stub.StreamObserver<dev.workpool.v1.EnqueueResponse> responseObserver) {
      io.grpc.stub.ServerCalls.asyncUnimplementedUnaryCall(getEnqueueMethod(), responseObserver);
    }

    /**
     * <pre>
     * EnqueueBatch adds several work items to one pool, all or none. Errors are
     * those of Enqueue; a field violation names the index of the item.
     * </pre>
     */
    default void enqueueBatch(dev.workpool.v1.EnqueueBatchRequest request,
        io.grpc.stub.StreamObserver<dev.workpool.v1.EnqueueBatchResponse> responseObserver) {
      io.grpc.stub.ServerCalls.asyncUnimplementedUnaryCall(getEnqueueBatchMethod(), responseObserver);
    }

    /**
     * <pre>
     * Status returns a work item's status. It returns NOT_FOUND when the id was
     * never issued or its status expired, INVALID_ARGUMENT when it is malformed.
     * </pre>
     */
    default void status(dev.workpool.v1.StatusRequest request,
        io.grpc.stub.StreamObserver<dev.workpool.v1.StatusResponse> responseObserver) {
      io.grpc.stub.ServerCalls.asyncUnimplementedUnaryCall(getStatusMethod(), responseObserver);
    }

    /**
     * <pre>
     * StatusBatch returns the status of several items in request order. Unknown
     * ids get WORK_STATE_NOT_FOUND; a malformed id fails the call.
     * </pre>
     */
    default void statusBatch(dev.workpool.v1.StatusBatchRequest request,
        io.grpc.stub.StreamObserver<dev.workpool.v1.StatusBatchResponse> responseObserver) {
      io.grpc.stub.ServerCalls.asyncUnimplementedUnaryCall(getStatusBatchMethod(), responseObserver);
    }

    /**
     * <pre>
     * Cancel ends a pending item at once, or sends a cancel request to the
     * worker of a running one. For a finished or unknown item it changes
     * nothing and says so in the outcome.
     * </pre>
     */
    default void cancel(dev.workpool.v1.CancelRequest request,
        io.grpc.stub.StreamObserver<dev.workpool.v1.CancelResponse> responseObserver) {
      io.grpc.stub.ServerCalls.asyncUnimplementedUnaryCall(getCancelMethod(), responseObserver);
    }

    /**
     * <pre>
     * CancelAll cancels every item of a pool enqueued before the call. It
     * returns NOT_FOUND when the pool does not exist.
     * </pre>
     */
    default void cancelAll(dev.workpool.v1.CancelAllRequest request,
        io.grpc.stub.StreamObserver<dev.workpool.v1.CancelAllResponse> responseObserver) {
      io.grpc.stub.ServerCalls.asyncUnimplementedUnaryCall(getCancelAllMethod(), responseObserver);
    }

    /**
     * <pre>
     * WatchCompletions streams the completion log, replaying it from
     * after_sequence and then following it live. It ends with OUT_OF_RANGE when
     * after_sequence is beyond the end of the log or entries after it were
     * already removed by retention, with INVALID_ARGUMENT for a negative
     * after_sequence or more than 1,000 work_ids, and with UNAVAILABLE when the
     * server shuts down; resume from the last sequence.
     * </pre>
     */
    default void watchCompletions(dev.workpool.v1.WatchCompletionsRequest request,
        io.grpc.stub.StreamObserver<dev.workpool.v1.WatchCompletionsResponse> responseObserver) {
      io.grpc.stub.ServerCalls.asyncUnimplementedUnaryCall(getWatchCompletionsMethod(), responseObserver);
    }

    /**
     * <pre>
     * Explain returns why a work item is not running now: its pool is paused
     * or at its limit, it is scheduled or backing off, no worker serves its
     * function, or it is running or finished. It returns NOT_FOUND and
     * INVALID_ARGUMENT like Status.
     * </pre>
     */
    default void explain(dev.workpool.v1.ExplainRequest request,
        io.grpc.stub.StreamObserver<dev.workpool.v1.ExplainResponse> responseObserver) {
      io.grpc.stub.ServerCalls.asyncUnimplementedUnaryCall(getExplainMethod(), responseObserver);
    }
  }

  /**
   * Base class for the server implementation of the service WorkpoolService.
   * <pre>
   * WorkpoolService enqueues work, reports its status, cancels it and streams
   * completions.
   * </pre>
   */
  public static abstract class WorkpoolServiceImplBase
      implements io.grpc.BindableService, AsyncService {

    @java.lang.Override public final io.grpc.ServerServiceDefinition bindService() {
      return WorkpoolServiceGrpc.bindService(this);
    }
  }

  /**
   * A stub to allow clients to do asynchronous rpc calls to service WorkpoolService.
   * <pre>
   * WorkpoolService enqueues work, reports its status, cancels it and streams
   * completions.
   * </pre>
   */
  public static final class WorkpoolServiceStub
      extends io.grpc.stub.AbstractAsyncStub<WorkpoolServiceStub> {
    private WorkpoolServiceStub(
        io.grpc.Channel channel, io.grpc.CallOptions callOptions) {
      super(channel, callOptions);
    }

    @java.lang.Override
    protected WorkpoolServiceStub build(
        io.grpc.Channel channel, io.grpc.CallOptions callOptions) {
      return new WorkpoolServiceStub(channel, callOptions);
    }

    /**
     * <pre>
     * Enqueue adds one work item to a pool. It returns NOT_FOUND when the pool
     * does not exist, INVALID_ARGUMENT or RESOURCE_EXHAUSTED naming the field
     * when the spec breaks a rule or a size limit, and the existing id when the
     * idempotency key was used before in the pool.
     * </pre>
     */
    public void enqueue(dev.workpool.v1.EnqueueRequest request,
        io.grpc.stub.StreamObserver<dev.workpool.v1.EnqueueResponse> responseObserver) {
      io.grpc.stub.ClientCalls.asyncUnaryCall(
          getChannel().newCall(getEnqueueMethod(), getCallOptions()), request, responseObserver);
    }

    /**
     * <pre>
     * EnqueueBatch adds several work items to one pool, all or none. Errors are
     * those of Enqueue; a field violation names the index of the item.
     * </pre>
     */
    public void enqueueBatch(dev.workpool.v1.EnqueueBatchRequest request,
        io.grpc.stub.StreamObserver<dev.workpool.v1.EnqueueBatchResponse> responseObserver) {
      io.grpc.stub.ClientCalls.asyncUnaryCall(
          getChannel().newCall(getEnqueueBatchMethod(), getCallOptions()), request, responseObserver);
    }

    /**
     * <pre>
     * Status returns a work item's status. It returns NOT_FOUND when the id was
     * never issued or its status expired, INVALID_ARGUMENT when it is malformed.
     * </pre>
     */
    public void status(dev.workpool.v1.StatusRequest request,
        io.grpc.stub.StreamObserver<dev.workpool.v1.StatusResponse> responseObserver) {
      io.grpc.stub.ClientCalls.asyncUnaryCall(
          getChannel().newCall(getStatusMethod(), getCallOptions()), request, responseObserver);
    }

    /**
     * <pre>
     * StatusBatch returns the status of several items in request order. Unknown
     * ids get WORK_STATE_NOT_FOUND; a malformed id fails the call.
     * </pre>
     */
    public void statusBatch(dev.workpool.v1.StatusBatchRequest request,
        io.grpc.stub.StreamObserver<dev.workpool.v1.StatusBatchResponse> responseObserver) {
      io.grpc.stub.ClientCalls.asyncUnaryCall(
          getChannel().newCall(getStatusBatchMethod(), getCallOptions()), request, responseObserver);
    }

    /**
     * <pre>
     * Cancel ends a pending item at once, or sends a cancel request to the
     * worker of a running one. For a finished or unknown item it changes
     * nothing and says so in the outcome.
     * </pre>
     */
    public void cancel(dev.workpool.v1.CancelRequest request,
        io.grpc.stub.StreamObserver<dev.workpool.v1.CancelResponse> responseObserver) {
      io.grpc.stub.ClientCalls.asyncUnaryCall(
          getChannel().newCall(getCancelMethod(), getCallOptions()), request, responseObserver);
    }

    /**
     * <pre>
     * CancelAll cancels every item of a pool enqueued before the call. It
     * returns NOT_FOUND when the pool does not exist.
     * </pre>
     */
    public void cancelAll(dev.workpool.v1.CancelAllRequest request,
        io.grpc.stub.StreamObserver<dev.workpool.v1.CancelAllResponse> responseObserver) {
      io.grpc.stub.ClientCalls.asyncUnaryCall(
          getChannel().newCall(getCancelAllMethod(), getCallOptions()), request, responseObserver);
    }

    /**
     * <pre>
     * WatchCompletions streams the completion log, replaying it from
     * after_sequence and then following it live. It ends with OUT_OF_RANGE when
     * after_sequence is beyond the end of the log or entries after it were
     * already removed by retention, with INVALID_ARGUMENT for a negative
     * after_sequence or more than 1,000 work_ids, and with UNAVAILABLE when the
     * server shuts down; resume from the last sequence.
     * </pre>
     */
    public void watchCompletions(dev.workpool.v1.WatchCompletionsRequest request,
        io.grpc.stub.StreamObserver<dev.workpool.v1.WatchCompletionsResponse> responseObserver) {
      io.grpc.stub.ClientCalls.asyncServerStreamingCall(
          getChannel().newCall(getWatchCompletionsMethod(), getCallOptions()), request, responseObserver);
    }

    /**
     * <pre>
     * Explain returns why a work item is not running now: its pool is paused
     * or at its limit, it is scheduled or backing off, no worker serves its
     * function, or it is running or finished. It returns NOT_FOUND and
     * INVALID_ARGUMENT like Status.
     * </pre>
     */
    public void explain(dev.workpool.v1.ExplainRequest request,
        io.grpc.stub.StreamObserver<dev.workpool.v1.ExplainResponse> responseObserver) {
      io.grpc.stub.ClientCalls.asyncUnaryCall(
          getChannel().newCall(getExplainMethod(), getCallOptions()), request, responseObserver);
    }
  }

  /**
   * A stub to allow clients to do synchronous rpc calls to service WorkpoolService.
   * <pre>
   * WorkpoolService enqueues work, reports its status, cancels it and streams
   * completions.
   * </pre>
   */
  public static final class WorkpoolServiceBlockingV2Stub
      extends io.grpc.stub.AbstractBlockingStub<WorkpoolServiceBlockingV2Stub> {
    private WorkpoolServiceBlockingV2Stub(
        io.grpc.Channel channel, io.grpc.CallOptions callOptions) {
      super(channel, callOptions);
    }

    @java.lang.Override
    protected WorkpoolServiceBlockingV2Stub build(
        io.grpc.Channel channel, io.grpc.CallOptions callOptions) {
      return new WorkpoolServiceBlockingV2Stub(channel, callOptions);
    }

    /**
     * <pre>
     * Enqueue adds one work item to a pool. It returns NOT_FOUND when the pool
     * does not exist, INVALID_ARGUMENT or RESOURCE_EXHAUSTED naming the field
     * when the spec breaks a rule or a size limit, and the existing id when the
     * idempotency key was used before in the pool.
     * </pre>
     */
    public dev.workpool.v1.EnqueueResponse enqueue(dev.workpool.v1.EnqueueRequest request) throws io.grpc.StatusException {
      return io.grpc.stub.ClientCalls.blockingV2UnaryCall(
          getChannel(), getEnqueueMethod(), getCallOptions(), request);
    }

    /**
     * <pre>
     * EnqueueBatch adds several work items to one pool, all or none. Errors are
     * those of Enqueue; a field violation names the index of the item.
     * </pre>
     */
    public dev.workpool.v1.EnqueueBatchResponse enqueueBatch(dev.workpool.v1.EnqueueBatchRequest request) throws io.grpc.StatusException {
      return io.grpc.stub.ClientCalls.blockingV2UnaryCall(
          getChannel(), getEnqueueBatchMethod(), getCallOptions(), request);
    }

    /**
     * <pre>
     * Status returns a work item's status. It returns NOT_FOUND when the id was
     * never issued or its status expired, INVALID_ARGUMENT when it is malformed.
     * </pre>
     */
    public dev.workpool.v1.StatusResponse status(dev.workpool.v1.StatusRequest request) throws io.grpc.StatusException {
      return io.grpc.stub.ClientCalls.blockingV2UnaryCall(
          getChannel(), getStatusMethod(), getCallOptions(), request);
    }

    /**
     * <pre>
     * StatusBatch returns the status of several items in request order. Unknown
     * ids get WORK_STATE_NOT_FOUND; a malformed id fails the call.
     * </pre>
     */
    public dev.workpool.v1.StatusBatchResponse statusBatch(dev.workpool.v1.StatusBatchRequest request) throws io.grpc.StatusException {
      return io.grpc.stub.ClientCalls.blockingV2UnaryCall(
          getChannel(), getStatusBatchMethod(), getCallOptions(), request);
    }

    /**
     * <pre>
     * Cancel ends a pending item at once, or sends a cancel request to the
     * worker of a running one. For a finished or unknown item it changes
     * nothing and says so in the outcome.
     * </pre>
     */
    public dev.workpool.v1.CancelResponse cancel(dev.workpool.v1.CancelRequest request) throws io.grpc.StatusException {
      return io.grpc.stub.ClientCalls.blockingV2UnaryCall(
          getChannel(), getCancelMethod(), getCallOptions(), request);
    }

    /**
     * <pre>
     * CancelAll cancels every item of a pool enqueued before the call. It
     * returns NOT_FOUND when the pool does not exist.
     * </pre>
     */
    public dev.workpool.v1.CancelAllResponse cancelAll(dev.workpool.v1.CancelAllRequest request) throws io.grpc.StatusException {
      return io.grpc.stub.ClientCalls.blockingV2UnaryCall(
          getChannel(), getCancelAllMethod(), getCallOptions(), request);
    }

    /**
     * <pre>
     * WatchCompletions streams the completion log, replaying it from
     * after_sequence and then following it live. It ends with OUT_OF_RANGE when
     * after_sequence is beyond the end of the log or entries after it were
     * already removed by retention, with INVALID_ARGUMENT for a negative
     * after_sequence or more than 1,000 work_ids, and with UNAVAILABLE when the
     * server shuts down; resume from the last sequence.
     * </pre>
     */
    @io.grpc.ExperimentalApi("https://github.com/grpc/grpc-java/issues/10918")
    public io.grpc.stub.BlockingClientCall<?, dev.workpool.v1.WatchCompletionsResponse>
        watchCompletions(dev.workpool.v1.WatchCompletionsRequest request) {
      return io.grpc.stub.ClientCalls.blockingV2ServerStreamingCall(
          getChannel(), getWatchCompletionsMethod(), getCallOptions(), request);
    }

    /**
     * <pre>
     * Explain returns why a work item is not running now: its pool is paused
     * or at its limit, it is scheduled or backing off, no worker serves its
     * function, or it is running or finished. It returns NOT_FOUND and
     * INVALID_ARGUMENT like Status.
     * </pre>
     */
    public dev.workpool.v1.ExplainResponse explain(dev.workpool.v1.ExplainRequest request) throws io.grpc.StatusException {
      return io.grpc.stub.ClientCalls.blockingV2UnaryCall(
          getChannel(), getExplainMethod(), getCallOptions(), request);
    }
  }

  /**
   * A stub to allow clients to do limited synchronous rpc calls to service WorkpoolService.
   * <pre>
   * WorkpoolService enqueues work, reports its status, cancels it and streams
   * completions.
   * </pre>
   */
  public static final class WorkpoolServiceBlockingStub
      extends io.grpc.stub.AbstractBlockingStub<WorkpoolServiceBlockingStub> {
    private WorkpoolServiceBlockingStub(
        io.grpc.Channel channel, io.grpc.CallOptions callOptions) {
      super(channel, callOptions);
    }

    @java.lang.Override
    protected WorkpoolServiceBlockingStub build(
        io.grpc.Channel channel, io.grpc.CallOptions callOptions) {
      return new WorkpoolServiceBlockingStub(channel, callOptions);
    }

    /**
     * <pre>
     * Enqueue adds one work item to a pool. It returns NOT_FOUND when the pool
     * does not exist, INVALID_ARGUMENT or RESOURCE_EXHAUSTED naming the field
     * when the spec breaks a rule or a size limit, and the existing id when the
     * idempotency key was used before in the pool.
     * </pre>
     */
    public dev.workpool.v1.EnqueueResponse enqueue(dev.workpool.v1.EnqueueRequest request) {
      return io.grpc.stub.ClientCalls.blockingUnaryCall(
          getChannel(), getEnqueueMethod(), getCallOptions(), request);
    }

    /**
     * <pre>
     * EnqueueBatch adds several work items to one pool, all or none. Errors are
     * those of Enqueue; a field violation names the index of the item.
     * </pre>
     */
    public dev.workpool.v1.EnqueueBatchResponse enqueueBatch(dev.workpool.v1.EnqueueBatchRequest request) {
      return io.grpc.stub.ClientCalls.blockingUnaryCall(
          getChannel(), getEnqueueBatchMethod(), getCallOptions(), request);
    }

    /**
     * <pre>
     * Status returns a work item's status. It returns NOT_FOUND when the id was
     * never issued or its status expired, INVALID_ARGUMENT when it is malformed.
     * </pre>
     */
    public dev.workpool.v1.StatusResponse status(dev.workpool.v1.StatusRequest request) {
      return io.grpc.stub.ClientCalls.blockingUnaryCall(
          getChannel(), getStatusMethod(), getCallOptions(), request);
    }

    /**
     * <pre>
     * StatusBatch returns the status of several items in request order. Unknown
     * ids get WORK_STATE_NOT_FOUND; a malformed id fails the call.
     * </pre>
     */
    public dev.workpool.v1.StatusBatchResponse statusBatch(dev.workpool.v1.StatusBatchRequest request) {
      return io.grpc.stub.ClientCalls.blockingUnaryCall(
          getChannel(), getStatusBatchMethod(), getCallOptions(), request);
    }

    /**
     * <pre>
     * Cancel ends a pending item at once, or sends a cancel request to the
     * worker of a running one. For a finished or unknown item it changes
     * nothing and says so in the outcome.
     * </pre>
     */
    public dev.workpool.v1.CancelResponse cancel(dev.workpool.v1.CancelRequest request) {
      return io.grpc.stub.ClientCalls.blockingUnaryCall(
          getChannel(), getCancelMethod(), getCallOptions(), request);
    }

    /**
     * <pre>
     * CancelAll cancels every item of a pool enqueued before the call. It
     * returns NOT_FOUND when the pool does not exist.
     * </pre>
     */
    public dev.workpool.v1.CancelAllResponse cancelAll(dev.workpool.v1.CancelAllRequest request) {
      return io.grpc.stub.ClientCalls.blockingUnaryCall(
          getChannel(), getCancelAllMethod(), getCallOptions(), request);
    }

    /**
     * <pre>
     * WatchCompletions streams the completion log, replaying it from
     * after_sequence and then following it live. It ends with OUT_OF_RANGE when
     * after_sequence is beyond the end of the log or entries after it were
     * already removed by retention, with INVALID_ARGUMENT for a negative
     * after_sequence or more than 1,000 work_ids, and with UNAVAILABLE when the
     * server shuts down; resume from the last sequence.
     * </pre>
     */
    public java.util.Iterator<dev.workpool.v1.WatchCompletionsResponse> watchCompletions(
        dev.workpool.v1.WatchCompletionsRequest request) {
      return io.grpc.stub.ClientCalls.blockingServerStreamingCall(
          getChannel(), getWatchCompletionsMethod(), getCallOptions(), request);
    }

    /**
     * <pre>
     * Explain returns why a work item is not running now: its pool is paused
     * or at its limit, it is scheduled or backing off, no worker serves its
     * function, or it is running or finished. It returns NOT_FOUND and
     * INVALID_ARGUMENT like Status.
     * </pre>
     */
    public dev.workpool.v1.ExplainResponse explain(dev.workpool.v1.ExplainRequest request) {
      return io.grpc.stub.ClientCalls.blockingUnaryCall(
          getChannel(), getExplainMethod(), getCallOptions(), request);
    }
  }

  /**
   * A stub to allow clients to do ListenableFuture-style rpc calls to service WorkpoolService.
   * <pre>
   * WorkpoolService enqueues work, reports its status, cancels it and streams
   * completions.
   * </pre>
   */
  public static final class WorkpoolServiceFutureStub
      extends io.grpc.stub.AbstractFutureStub<WorkpoolServiceFutureStub> {
    private WorkpoolServiceFutureStub(
        io.grpc.Channel channel, io.grpc.CallOptions callOptions) {
      super(channel, callOptions);
    }

    @java.lang.Override
    protected WorkpoolServiceFutureStub build(
        io.grpc.Channel channel, io.grpc.CallOptions callOptions) {
      return new WorkpoolServiceFutureStub(channel, callOptions);
    }

    /**
     * <pre>
     * Enqueue adds one work item to a pool. It returns NOT_FOUND when the pool
     * does not exist, INVALID_ARGUMENT or RESOURCE_EXHAUSTED naming the field
     * when the spec breaks a rule or a size limit, and the existing id when the
     * idempotency key was used before in the pool.
     * </pre>
     */
    public com.google.common.util.concurrent.ListenableFuture<dev.workpool.v1.EnqueueResponse> enqueue(
        dev.workpool.v1.EnqueueRequest request) {
      return io.grpc.stub.ClientCalls.futureUnaryCall(
          getChannel().newCall(getEnqueueMethod(), getCallOptions()), request);
    }

    /**
     * <pre>
     * EnqueueBatch adds several work items to one pool, all or none. Errors are
     * those of Enqueue; a field violation names the index of the item.
     * </pre>
     */
    public com.google.common.util.concurrent.ListenableFuture<dev.workpool.v1.EnqueueBatchResponse> enqueueBatch(
        dev.workpool.v1.EnqueueBatchRequest request) {
      return io.grpc.stub.ClientCalls.futureUnaryCall(
          getChannel().newCall(getEnqueueBatchMethod(), getCallOptions()), request);
    }

    /**
     * <pre>
     * Status returns a work item's status. It returns NOT_FOUND when the id was
     * never issued or its status expired, INVALID_ARGUMENT when it is malformed.
     * </pre>
     */
    public com.google.common.util.concurrent.ListenableFuture<dev.workpool.v1.StatusResponse> status(
        dev.workpool.v1.StatusRequest request) {
      return io.grpc.stub.ClientCalls.futureUnaryCall(
          getChannel().newCall(getStatusMethod(), getCallOptions()), request);
    }

    /**
     * <pre>
     * StatusBatch returns the status of several items in request order. Unknown
     * ids get WORK_STATE_NOT_FOUND; a malformed id fails the call.
     * </pre>
     */
    public com.google.common.util.concurrent.ListenableFuture<dev.workpool.v1.StatusBatchResponse> statusBatch(
        dev.workpool.v1.StatusBatchRequest request) {
      return io.grpc.stub.ClientCalls.futureUnaryCall(
          getChannel().newCall(getStatusBatchMethod(), getCallOptions()), request);
    }

    /**
     * <pre>
     * Cancel ends a pending item at once, or sends a cancel request to the
     * worker of a running one. For a finished or unknown item it changes
     * nothing and says so in the outcome.
     * </pre>
     */
    public com.google.common.util.concurrent.ListenableFuture<dev.workpool.v1.CancelResponse> cancel(
        dev.workpool.v1.CancelRequest request) {
      return io.grpc.stub.ClientCalls.futureUnaryCall(
          getChannel().newCall(getCancelMethod(), getCallOptions()), request);
    }

    /**
     * <pre>
     * CancelAll cancels every item of a pool enqueued before the call. It
     * returns NOT_FOUND when the pool does not exist.
     * </pre>
     */
    public com.google.common.util.concurrent.ListenableFuture<dev.workpool.v1.CancelAllResponse> cancelAll(
        dev.workpool.v1.CancelAllRequest request) {
      return io.grpc.stub.ClientCalls.futureUnaryCall(
          getChannel().newCall(getCancelAllMethod(), getCallOptions()), request);
    }

    /**
     * <pre>
     * Explain returns why a work item is not running now: its pool is paused
     * or at its limit, it is scheduled or backing off, no worker serves its
     * function, or it is running or finished. It returns NOT_FOUND and
     * INVALID_ARGUMENT like Status.
     * </pre>
     */
    public com.google.common.util.concurrent.ListenableFuture<dev.workpool.v1.ExplainResponse> explain(
        dev.workpool.v1.ExplainRequest request) {
      return io.grpc.stub.ClientCalls.futureUnaryCall(
          getChannel().newCall(getExplainMethod(), getCallOptions()), request);
    }
  }

  private static final int METHODID_ENQUEUE = 0;
  private static final int METHODID_ENQUEUE_BATCH = 1;
  private static final int METHODID_STATUS = 2;
  private static final int METHODID_STATUS_BATCH = 3;
  private static final int METHODID_CANCEL = 4;
  private static final int METHODID_CANCEL_ALL = 5;
  private static final int METHODID_WATCH_COMPLETIONS = 6;
  private static final int METHODID_EXPLAIN = 7;

  private static final class MethodHandlers<Req, Resp> implements
      io.grpc.stub.ServerCalls.UnaryMethod<Req, Resp>,
      io.grpc.stub.ServerCalls.ServerStreamingMethod<Req, Resp>,
      io.grpc.stub.ServerCalls.ClientStreamingMethod<Req, Resp>,
      io.grpc.stub.ServerCalls.BidiStreamingMethod<Req, Resp> {
    private final AsyncService serviceImpl;
    private final int methodId;

    MethodHandlers(AsyncService serviceImpl, int methodId) {
      this.serviceImpl = serviceImpl;
      this.methodId = methodId;
    }

    @java.lang.Override
    @java.lang.SuppressWarnings("unchecked")
    public void invoke(Req request, io.grpc.stub.StreamObserver<Resp> responseObserver) {
      switch (methodId) {
        case METHODID_ENQUEUE:
          serviceImpl.enqueue((dev.workpool.v1.EnqueueRequest) request,
              (io.grpc.stub.StreamObserver<dev.workpool.v1.EnqueueResponse>) responseObserver);
          break;
        case METHODID_ENQUEUE_BATCH:
          serviceImpl.enqueueBatch((dev.workpool.v1.EnqueueBatchRequest) request,
              (io.grpc.stub.StreamObserver<dev.workpool.v1.EnqueueBatchResponse>) responseObserver);
          break;
        case METHODID_STATUS:
          serviceImpl.status((dev.workpool.v1.StatusRequest) request,
              (io.grpc.stub.StreamObserver<dev.workpool.v1.StatusResponse>) responseObserver);
          break;
        case METHODID_STATUS_BATCH:
          serviceImpl.statusBatch((dev.workpool.v1.StatusBatchRequest) request,
              (io.grpc.stub.StreamObserver<dev.workpool.v1.StatusBatchResponse>) responseObserver);
          break;
        case METHODID_CANCEL:
          serviceImpl.cancel((dev.workpool.v1.CancelRequest) request,
              (io.grpc.stub.StreamObserver<dev.workpool.v1.CancelResponse>) responseObserver);
          break;
        case METHODID_CANCEL_ALL:
          serviceImpl.cancelAll((dev.workpool.v1.CancelAllRequest) request,
              (io.grpc.stub.StreamObserver<dev.workpool.v1.CancelAllResponse>) responseObserver);
          break;
        case METHODID_WATCH_COMPLETIONS:
          serviceImpl.watchCompletions((dev.workpool.v1.WatchCompletionsRequest) request,
              (io.grpc.stub.StreamObserver<dev.workpool.v1.WatchCompletionsResponse>) responseObserver);
          break;
        case METHODID_EXPLAIN:
          serviceImpl.explain((dev.workpool.v1.ExplainRequest) request,
              (io.grpc.stub.StreamObserver<dev.workpool.v1.ExplainResponse>) responseObserver);
          break;
        default:
          throw new AssertionError();
      }
    }

    @java.lang.Override
    @java.lang.SuppressWarnings("unchecked")
    public io.grpc.stub.StreamObserver<Req> invoke(
        io.grpc.stub.StreamObserver<Resp> responseObserver) {
      switch (methodId) {
        default:
          throw new AssertionError();
      }
    }
  }

  public static final io.grpc.ServerServiceDefinition bindService(AsyncService service) {
    return io.grpc.ServerServiceDefinition.builder(getServiceDescriptor())
        .addMethod(
          getEnqueueMethod(),
          io.grpc.stub.ServerCalls.asyncUnaryCall(
            new MethodHandlers<
              dev.workpool.v1.EnqueueRequest,
              dev.workpool.v1.EnqueueResponse>(
                service, METHODID_ENQUEUE)))
        .addMethod(
          getEnqueueBatchMethod(),
          io.grpc.stub.ServerCalls.asyncUnaryCall(
            new MethodHandlers<
              dev.workpool.v1.EnqueueBatchRequest,
              dev.workpool.v1.EnqueueBatchResponse>(
                service, METHODID_ENQUEUE_BATCH)))
        .addMethod(
          getStatusMethod(),
          io.grpc.stub.ServerCalls.asyncUnaryCall(
            new MethodHandlers<
              dev.workpool.v1.StatusRequest,
              dev.workpool.v1.StatusResponse>(
                service, METHODID_STATUS)))
        .addMethod(
          getStatusBatchMethod(),
          io.grpc.stub.ServerCalls.asyncUnaryCall(
            new MethodHandlers<
              dev.workpool.v1.StatusBatchRequest,
              dev.workpool.v1.StatusBatchResponse>(
                service, METHODID_STATUS_BATCH)))
        .addMethod(
          getCancelMethod(),
          io.grpc.stub.ServerCalls.asyncUnaryCall(
            new MethodHandlers<
              dev.workpool.v1.CancelRequest,
              dev.workpool.v1.CancelResponse>(
                service, METHODID_CANCEL)))
        .addMethod(
          getCancelAllMethod(),
          io.grpc.stub.ServerCalls.asyncUnaryCall(
            new MethodHandlers<
              dev.workpool.v1.CancelAllRequest,
              dev.workpool.v1.CancelAllResponse>(
                service, METHODID_CANCEL_ALL)))
        .addMethod(
          getWatchCompletionsMethod(),
          io.grpc.stub.ServerCalls.asyncServerStreamingCall(
            new MethodHandlers<
              dev.workpool.v1.WatchCompletionsRequest,
              dev.workpool.v1.WatchCompletionsResponse>(
                service, METHODID_WATCH_COMPLETIONS)))
        .addMethod(
          getExplainMethod(),
          io.grpc.stub.ServerCalls.asyncUnaryCall(
            new MethodHandlers<
              dev.workpool.v1.ExplainRequest,
              dev.workpool.v1.ExplainResponse>(
                service, METHODID_EXPLAIN)))
        .build();
  }

  private static abstract class WorkpoolServiceBaseDescriptorSupplier
      implements io.grpc.protobuf.ProtoFileDescriptorSupplier, io.grpc.protobuf.ProtoServiceDescriptorSupplier {
    WorkpoolServiceBaseDescriptorSupplier() {}

    @java.lang.Override
    public com.google.protobuf.Descriptors.FileDescriptor getFileDescriptor() {
      return dev.workpool.v1.WorkpoolServiceOuterClass.getDescriptor();
    }

    @java.lang.Override
    public com.google.protobuf.Descriptors.ServiceDescriptor getServiceDescriptor() {
      return getFileDescriptor().findServiceByName("WorkpoolService");
    }
  }

  private static final class WorkpoolServiceFileDescriptorSupplier
      extends WorkpoolServiceBaseDescriptorSupplier {
    WorkpoolServiceFileDescriptorSupplier() {}
  }

  private static final class WorkpoolServiceMethodDescriptorSupplier
      extends WorkpoolServiceBaseDescriptorSupplier
      implements io.grpc.protobuf.ProtoMethodDescriptorSupplier {
    private final java.lang.String methodName;

    WorkpoolServiceMethodDescriptorSupplier(java.lang.String methodName) {
      this.methodName = methodName;
    }

    @java.lang.Override
    public com.google.protobuf.Descriptors.MethodDescriptor getMethodDescriptor() {
      return getServiceDescriptor().findMethodByName(methodName);
    }
  }

  private static volatile io.grpc.ServiceDescriptor serviceDescriptor;

  public static io.grpc.ServiceDescriptor getServiceDescriptor() {
    io.grpc.ServiceDescriptor result = serviceDescriptor;
    if (result == null) {
      synchronized (WorkpoolServiceGrpc.class) {
        result = serviceDescriptor;
        if (result == null) {
          serviceDescriptor = result = io.grpc.ServiceDescriptor.newBuilder(SERVICE_NAME)
              .setSchemaDescriptor(new WorkpoolServiceFileDescriptorSupplier())
              .addMethod(getEnqueueMethod())
              .addMethod(getEnqueueBatchMethod())
              .addMethod(getStatusMethod())
              .addMethod(getStatusBatchMethod())
              .addMethod(getCancelMethod())
              .addMethod(getCancelAllMethod())
              .addMethod(getWatchCompletionsMethod())
              .addMethod(getExplainMethod())
              .build();
        }
      }
    }
    return result;
  }
}
