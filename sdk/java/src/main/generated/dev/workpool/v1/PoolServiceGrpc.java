package dev.workpool.v1;

import static io.grpc.MethodDescriptor.generateFullMethodName;

/**
 * <pre>
 * PoolService creates, reads, changes and deletes pools.
 * </pre>
 */
@io.grpc.stub.annotations.GrpcGenerated
public final class PoolServiceGrpc {

  private PoolServiceGrpc() {}

  public static final java.lang.String SERVICE_NAME = "workpool.v1.PoolService";

  // Static method descriptors that strictly reflect the proto.
  private static volatile io.grpc.MethodDescriptor<dev.workpool.v1.CreatePoolRequest,
      dev.workpool.v1.CreatePoolResponse> getCreatePoolMethod;

  @io.grpc.stub.annotations.RpcMethod(
      fullMethodName = SERVICE_NAME + '/' + "CreatePool",
      requestType = dev.workpool.v1.CreatePoolRequest.class,
      responseType = dev.workpool.v1.CreatePoolResponse.class,
      methodType = io.grpc.MethodDescriptor.MethodType.UNARY)
  public static io.grpc.MethodDescriptor<dev.workpool.v1.CreatePoolRequest,
      dev.workpool.v1.CreatePoolResponse> getCreatePoolMethod() {
    io.grpc.MethodDescriptor<dev.workpool.v1.CreatePoolRequest, dev.workpool.v1.CreatePoolResponse> getCreatePoolMethod;
    if ((getCreatePoolMethod = PoolServiceGrpc.getCreatePoolMethod) == null) {
      synchronized (PoolServiceGrpc.class) {
        if ((getCreatePoolMethod = PoolServiceGrpc.getCreatePoolMethod) == null) {
          PoolServiceGrpc.getCreatePoolMethod = getCreatePoolMethod =
              io.grpc.MethodDescriptor.<dev.workpool.v1.CreatePoolRequest, dev.workpool.v1.CreatePoolResponse>newBuilder()
              .setType(io.grpc.MethodDescriptor.MethodType.UNARY)
              .setFullMethodName(generateFullMethodName(SERVICE_NAME, "CreatePool"))
              .setSampledToLocalTracing(true)
              .setRequestMarshaller(io.grpc.protobuf.ProtoUtils.marshaller(
                  dev.workpool.v1.CreatePoolRequest.getDefaultInstance()))
              .setResponseMarshaller(io.grpc.protobuf.ProtoUtils.marshaller(
                  dev.workpool.v1.CreatePoolResponse.getDefaultInstance()))
              .setSchemaDescriptor(new PoolServiceMethodDescriptorSupplier("CreatePool"))
              .build();
        }
      }
    }
    return getCreatePoolMethod;
  }

  private static volatile io.grpc.MethodDescriptor<dev.workpool.v1.GetPoolRequest,
      dev.workpool.v1.GetPoolResponse> getGetPoolMethod;

  @io.grpc.stub.annotations.RpcMethod(
      fullMethodName = SERVICE_NAME + '/' + "GetPool",
      requestType = dev.workpool.v1.GetPoolRequest.class,
      responseType = dev.workpool.v1.GetPoolResponse.class,
      methodType = io.grpc.MethodDescriptor.MethodType.UNARY)
  public static io.grpc.MethodDescriptor<dev.workpool.v1.GetPoolRequest,
      dev.workpool.v1.GetPoolResponse> getGetPoolMethod() {
    io.grpc.MethodDescriptor<dev.workpool.v1.GetPoolRequest, dev.workpool.v1.GetPoolResponse> getGetPoolMethod;
    if ((getGetPoolMethod = PoolServiceGrpc.getGetPoolMethod) == null) {
      synchronized (PoolServiceGrpc.class) {
        if ((getGetPoolMethod = PoolServiceGrpc.getGetPoolMethod) == null) {
          PoolServiceGrpc.getGetPoolMethod = getGetPoolMethod =
              io.grpc.MethodDescriptor.<dev.workpool.v1.GetPoolRequest, dev.workpool.v1.GetPoolResponse>newBuilder()
              .setType(io.grpc.MethodDescriptor.MethodType.UNARY)
              .setFullMethodName(generateFullMethodName(SERVICE_NAME, "GetPool"))
              .setSampledToLocalTracing(true)
              .setRequestMarshaller(io.grpc.protobuf.ProtoUtils.marshaller(
                  dev.workpool.v1.GetPoolRequest.getDefaultInstance()))
              .setResponseMarshaller(io.grpc.protobuf.ProtoUtils.marshaller(
                  dev.workpool.v1.GetPoolResponse.getDefaultInstance()))
              .setSchemaDescriptor(new PoolServiceMethodDescriptorSupplier("GetPool"))
              .build();
        }
      }
    }
    return getGetPoolMethod;
  }

  private static volatile io.grpc.MethodDescriptor<dev.workpool.v1.ListPoolsRequest,
      dev.workpool.v1.ListPoolsResponse> getListPoolsMethod;

  @io.grpc.stub.annotations.RpcMethod(
      fullMethodName = SERVICE_NAME + '/' + "ListPools",
      requestType = dev.workpool.v1.ListPoolsRequest.class,
      responseType = dev.workpool.v1.ListPoolsResponse.class,
      methodType = io.grpc.MethodDescriptor.MethodType.UNARY)
  public static io.grpc.MethodDescriptor<dev.workpool.v1.ListPoolsRequest,
      dev.workpool.v1.ListPoolsResponse> getListPoolsMethod() {
    io.grpc.MethodDescriptor<dev.workpool.v1.ListPoolsRequest, dev.workpool.v1.ListPoolsResponse> getListPoolsMethod;
    if ((getListPoolsMethod = PoolServiceGrpc.getListPoolsMethod) == null) {
      synchronized (PoolServiceGrpc.class) {
        if ((getListPoolsMethod = PoolServiceGrpc.getListPoolsMethod) == null) {
          PoolServiceGrpc.getListPoolsMethod = getListPoolsMethod =
              io.grpc.MethodDescriptor.<dev.workpool.v1.ListPoolsRequest, dev.workpool.v1.ListPoolsResponse>newBuilder()
              .setType(io.grpc.MethodDescriptor.MethodType.UNARY)
              .setFullMethodName(generateFullMethodName(SERVICE_NAME, "ListPools"))
              .setSampledToLocalTracing(true)
              .setRequestMarshaller(io.grpc.protobuf.ProtoUtils.marshaller(
                  dev.workpool.v1.ListPoolsRequest.getDefaultInstance()))
              .setResponseMarshaller(io.grpc.protobuf.ProtoUtils.marshaller(
                  dev.workpool.v1.ListPoolsResponse.getDefaultInstance()))
              .setSchemaDescriptor(new PoolServiceMethodDescriptorSupplier("ListPools"))
              .build();
        }
      }
    }
    return getListPoolsMethod;
  }

  private static volatile io.grpc.MethodDescriptor<dev.workpool.v1.UpdatePoolRequest,
      dev.workpool.v1.UpdatePoolResponse> getUpdatePoolMethod;

  @io.grpc.stub.annotations.RpcMethod(
      fullMethodName = SERVICE_NAME + '/' + "UpdatePool",
      requestType = dev.workpool.v1.UpdatePoolRequest.class,
      responseType = dev.workpool.v1.UpdatePoolResponse.class,
      methodType = io.grpc.MethodDescriptor.MethodType.UNARY)
  public static io.grpc.MethodDescriptor<dev.workpool.v1.UpdatePoolRequest,
      dev.workpool.v1.UpdatePoolResponse> getUpdatePoolMethod() {
    io.grpc.MethodDescriptor<dev.workpool.v1.UpdatePoolRequest, dev.workpool.v1.UpdatePoolResponse> getUpdatePoolMethod;
    if ((getUpdatePoolMethod = PoolServiceGrpc.getUpdatePoolMethod) == null) {
      synchronized (PoolServiceGrpc.class) {
        if ((getUpdatePoolMethod = PoolServiceGrpc.getUpdatePoolMethod) == null) {
          PoolServiceGrpc.getUpdatePoolMethod = getUpdatePoolMethod =
              io.grpc.MethodDescriptor.<dev.workpool.v1.UpdatePoolRequest, dev.workpool.v1.UpdatePoolResponse>newBuilder()
              .setType(io.grpc.MethodDescriptor.MethodType.UNARY)
              .setFullMethodName(generateFullMethodName(SERVICE_NAME, "UpdatePool"))
              .setSampledToLocalTracing(true)
              .setRequestMarshaller(io.grpc.protobuf.ProtoUtils.marshaller(
                  dev.workpool.v1.UpdatePoolRequest.getDefaultInstance()))
              .setResponseMarshaller(io.grpc.protobuf.ProtoUtils.marshaller(
                  dev.workpool.v1.UpdatePoolResponse.getDefaultInstance()))
              .setSchemaDescriptor(new PoolServiceMethodDescriptorSupplier("UpdatePool"))
              .build();
        }
      }
    }
    return getUpdatePoolMethod;
  }

  private static volatile io.grpc.MethodDescriptor<dev.workpool.v1.DeletePoolRequest,
      dev.workpool.v1.DeletePoolResponse> getDeletePoolMethod;

  @io.grpc.stub.annotations.RpcMethod(
      fullMethodName = SERVICE_NAME + '/' + "DeletePool",
      requestType = dev.workpool.v1.DeletePoolRequest.class,
      responseType = dev.workpool.v1.DeletePoolResponse.class,
      methodType = io.grpc.MethodDescriptor.MethodType.UNARY)
  public static io.grpc.MethodDescriptor<dev.workpool.v1.DeletePoolRequest,
      dev.workpool.v1.DeletePoolResponse> getDeletePoolMethod() {
    io.grpc.MethodDescriptor<dev.workpool.v1.DeletePoolRequest, dev.workpool.v1.DeletePoolResponse> getDeletePoolMethod;
    if ((getDeletePoolMethod = PoolServiceGrpc.getDeletePoolMethod) == null) {
      synchronized (PoolServiceGrpc.class) {
        if ((getDeletePoolMethod = PoolServiceGrpc.getDeletePoolMethod) == null) {
          PoolServiceGrpc.getDeletePoolMethod = getDeletePoolMethod =
              io.grpc.MethodDescriptor.<dev.workpool.v1.DeletePoolRequest, dev.workpool.v1.DeletePoolResponse>newBuilder()
              .setType(io.grpc.MethodDescriptor.MethodType.UNARY)
              .setFullMethodName(generateFullMethodName(SERVICE_NAME, "DeletePool"))
              .setSampledToLocalTracing(true)
              .setRequestMarshaller(io.grpc.protobuf.ProtoUtils.marshaller(
                  dev.workpool.v1.DeletePoolRequest.getDefaultInstance()))
              .setResponseMarshaller(io.grpc.protobuf.ProtoUtils.marshaller(
                  dev.workpool.v1.DeletePoolResponse.getDefaultInstance()))
              .setSchemaDescriptor(new PoolServiceMethodDescriptorSupplier("DeletePool"))
              .build();
        }
      }
    }
    return getDeletePoolMethod;
  }

  /**
   * Creates a new async stub that supports all call types for the service
   */
  public static PoolServiceStub newStub(io.grpc.Channel channel) {
    io.grpc.stub.AbstractStub.StubFactory<PoolServiceStub> factory =
      new io.grpc.stub.AbstractStub.StubFactory<PoolServiceStub>() {
        @java.lang.Override
        public PoolServiceStub newStub(io.grpc.Channel channel, io.grpc.CallOptions callOptions) {
          return new PoolServiceStub(channel, callOptions);
        }
      };
    return PoolServiceStub.newStub(factory, channel);
  }

  /**
   * Creates a new blocking-style stub that supports all types of calls on the service
   */
  public static PoolServiceBlockingV2Stub newBlockingV2Stub(
      io.grpc.Channel channel) {
    io.grpc.stub.AbstractStub.StubFactory<PoolServiceBlockingV2Stub> factory =
      new io.grpc.stub.AbstractStub.StubFactory<PoolServiceBlockingV2Stub>() {
        @java.lang.Override
        public PoolServiceBlockingV2Stub newStub(io.grpc.Channel channel, io.grpc.CallOptions callOptions) {
          return new PoolServiceBlockingV2Stub(channel, callOptions);
        }
      };
    return PoolServiceBlockingV2Stub.newStub(factory, channel);
  }

  /**
   * Creates a new blocking-style stub that supports unary and streaming output calls on the service
   */
  public static PoolServiceBlockingStub newBlockingStub(
      io.grpc.Channel channel) {
    io.grpc.stub.AbstractStub.StubFactory<PoolServiceBlockingStub> factory =
      new io.grpc.stub.AbstractStub.StubFactory<PoolServiceBlockingStub>() {
        @java.lang.Override
        public PoolServiceBlockingStub newStub(io.grpc.Channel channel, io.grpc.CallOptions callOptions) {
          return new PoolServiceBlockingStub(channel, callOptions);
        }
      };
    return PoolServiceBlockingStub.newStub(factory, channel);
  }

  /**
   * Creates a new ListenableFuture-style stub that supports unary calls on the service
   */
  public static PoolServiceFutureStub newFutureStub(
      io.grpc.Channel channel) {
    io.grpc.stub.AbstractStub.StubFactory<PoolServiceFutureStub> factory =
      new io.grpc.stub.AbstractStub.StubFactory<PoolServiceFutureStub>() {
        @java.lang.Override
        public PoolServiceFutureStub newStub(io.grpc.Channel channel, io.grpc.CallOptions callOptions) {
          return new PoolServiceFutureStub(channel, callOptions);
        }
      };
    return PoolServiceFutureStub.newStub(factory, channel);
  }

  /**
   * <pre>
   * PoolService creates, reads, changes and deletes pools.
   * </pre>
   */
  public interface AsyncService {

    /**
     * <pre>
     * CreatePool creates a pool. It returns ALREADY_EXISTS when a pool of that
     * name exists and INVALID_ARGUMENT naming the field for a bad setting.
     * </pre>
     */
    default void createPool(dev.workpool.v1.CreatePoolRequest request,
        io.grpc.stub.StreamObserver<dev.workpool.v1.CreatePoolResponse> responseObserver) {
      io.grpc.stub.ServerCalls.asyncUnimplementedUnaryCall(getCreatePoolMethod(), responseObserver);
    }

    /**
     * <pre>
     * GetPool returns a pool and its counts, or NOT_FOUND.
     * </pre>
     */
    default void getPool(dev.workpool.v1.GetPoolRequest request,
        io.grpc.stub.StreamObserver<dev.workpool.v1.GetPoolResponse> responseObserver) {
      io.grpc.stub.ServerCalls.asyncUnimplementedUnaryCall(getGetPoolMethod(), responseObserver);
    }

    /**
     * <pre>
     * ListPools returns pools in name order, one page at a time.
     * </pre>
     */
    default void listPools(dev.workpool.v1.ListPoolsRequest request,
        io.grpc.stub.StreamObserver<dev.workpool.v1.ListPoolsResponse> responseObserver) {
      io.grpc.stub.ServerCalls.asyncUnimplementedUnaryCall(getListPoolsMethod(), responseObserver);
    }

    /**
     * <pre>
     * UpdatePool changes the fields named in update_mask. It returns NOT_FOUND
     * when the pool does not exist. Raising max_parallelism starts waiting work
     * at once; lowering it interrupts nothing.
     * </pre>
     */
    default void updatePool(dev.workpool.v1.UpdatePoolRequest request,
        io.grpc.stub.StreamObserver<dev.workpool.v1.UpdatePoolResponse> responseObserver) {
      io.grpc.stub.ServerCalls.asyncUnimplementedUnaryCall(getUpdatePoolMethod(), responseObserver);
    }

    /**
     * <pre>
     * DeletePool deletes a pool. It returns NOT_FOUND when the pool does not
     * exist and FAILED_PRECONDITION while it has pending or running items.
     * </pre>
     */
    default void deletePool(dev.workpool.v1.DeletePoolRequest request,
        io.grpc.stub.StreamObserver<dev.workpool.v1.DeletePoolResponse> responseObserver) {
      io.grpc.stub.ServerCalls.asyncUnimplementedUnaryCall(getDeletePoolMethod(), responseObserver);
    }
  }

  /**
   * Base class for the server implementation of the service PoolService.
   * <pre>
   * PoolService creates, reads, changes and deletes pools.
   * </pre>
   */
  public static abstract class PoolServiceImplBase
      implements io.grpc.BindableService, AsyncService {

    @java.lang.Override public final io.grpc.ServerServiceDefinition bindService() {
      return PoolServiceGrpc.bindService(this);
    }
  }

  /**
   * A stub to allow clients to do asynchronous rpc calls to service PoolService.
   * <pre>
   * PoolService creates, reads, changes and deletes pools.
   * </pre>
   */
  public static final class PoolServiceStub
      extends io.grpc.stub.AbstractAsyncStub<PoolServiceStub> {
    private PoolServiceStub(
        io.grpc.Channel channel, io.grpc.CallOptions callOptions) {
      super(channel, callOptions);
    }

    @java.lang.Override
    protected PoolServiceStub build(
        io.grpc.Channel channel, io.grpc.CallOptions callOptions) {
      return new PoolServiceStub(channel, callOptions);
    }

    /**
     * <pre>
     * CreatePool creates a pool. It returns ALREADY_EXISTS when a pool of that
     * name exists and INVALID_ARGUMENT naming the field for a bad setting.
     * </pre>
     */
    public void createPool(dev.workpool.v1.CreatePoolRequest request,
        io.grpc.stub.StreamObserver<dev.workpool.v1.CreatePoolResponse> responseObserver) {
      io.grpc.stub.ClientCalls.asyncUnaryCall(
          getChannel().newCall(getCreatePoolMethod(), getCallOptions()), request, responseObserver);
    }

    /**
     * <pre>
     * GetPool returns a pool and its counts, or NOT_FOUND.
     * </pre>
     */
    public void getPool(dev.workpool.v1.GetPoolRequest request,
        io.grpc.stub.StreamObserver<dev.workpool.v1.GetPoolResponse> responseObserver) {
      io.grpc.stub.ClientCalls.asyncUnaryCall(
          getChannel().newCall(getGetPoolMethod(), getCallOptions()), request, responseObserver);
    }

    /**
     * <pre>
     * ListPools returns pools in name order, one page at a time.
     * </pre>
     */
    public void listPools(dev.workpool.v1.ListPoolsRequest request,
        io.grpc.stub.StreamObserver<dev.workpool.v1.ListPoolsResponse> responseObserver) {
      io.grpc.stub.ClientCalls.asyncUnaryCall(
          getChannel().newCall(getListPoolsMethod(), getCallOptions()), request, responseObserver);
    }

    /**
     * <pre>
     * UpdatePool changes the fields named in update_mask. It returns NOT_FOUND
     * when the pool does not exist. Raising max_parallelism starts waiting work
     * at once; lowering it interrupts nothing.
     * </pre>
     */
    public void updatePool(dev.workpool.v1.UpdatePoolRequest request,
        io.grpc.stub.StreamObserver<dev.workpool.v1.UpdatePoolResponse> responseObserver) {
      io.grpc.stub.ClientCalls.asyncUnaryCall(
          getChannel().newCall(getUpdatePoolMethod(), getCallOptions()), request, responseObserver);
    }

    /**
     * <pre>
     * DeletePool deletes a pool. It returns NOT_FOUND when the pool does not
     * exist and FAILED_PRECONDITION while it has pending or running items.
     * </pre>
     */
    public void deletePool(dev.workpool.v1.DeletePoolRequest request,
        io.grpc.stub.StreamObserver<dev.workpool.v1.DeletePoolResponse> responseObserver) {
      io.grpc.stub.ClientCalls.asyncUnaryCall(
          getChannel().newCall(getDeletePoolMethod(), getCallOptions()), request, responseObserver);
    }
  }

  /**
   * A stub to allow clients to do synchronous rpc calls to service PoolService.
   * <pre>
   * PoolService creates, reads, changes and deletes pools.
   * </pre>
   */
  public static final class PoolServiceBlockingV2Stub
      extends io.grpc.stub.AbstractBlockingStub<PoolServiceBlockingV2Stub> {
    private PoolServiceBlockingV2Stub(
        io.grpc.Channel channel, io.grpc.CallOptions callOptions) {
      super(channel, callOptions);
    }

    @java.lang.Override
    protected PoolServiceBlockingV2Stub build(
        io.grpc.Channel channel, io.grpc.CallOptions callOptions) {
      return new PoolServiceBlockingV2Stub(channel, callOptions);
    }

    /**
     * <pre>
     * CreatePool creates a pool. It returns ALREADY_EXISTS when a pool of that
     * name exists and INVALID_ARGUMENT naming the field for a bad setting.
     * </pre>
     */
    public dev.workpool.v1.CreatePoolResponse createPool(dev.workpool.v1.CreatePoolRequest request) throws io.grpc.StatusException {
      return io.grpc.stub.ClientCalls.blockingV2UnaryCall(
          getChannel(), getCreatePoolMethod(), getCallOptions(), request);
    }

    /**
     * <pre>
     * GetPool returns a pool and its counts, or NOT_FOUND.
     * </pre>
     */
    public dev.workpool.v1.GetPoolResponse getPool(dev.workpool.v1.GetPoolRequest request) throws io.grpc.StatusException {
      return io.grpc.stub.ClientCalls.blockingV2UnaryCall(
          getChannel(), getGetPoolMethod(), getCallOptions(), request);
    }

    /**
     * <pre>
     * ListPools returns pools in name order, one page at a time.
     * </pre>
     */
    public dev.workpool.v1.ListPoolsResponse listPools(dev.workpool.v1.ListPoolsRequest request) throws io.grpc.StatusException {
      return io.grpc.stub.ClientCalls.blockingV2UnaryCall(
          getChannel(), getListPoolsMethod(), getCallOptions(), request);
    }

    /**
     * <pre>
     * UpdatePool changes the fields named in update_mask. It returns NOT_FOUND
     * when the pool does not exist. Raising max_parallelism starts waiting work
     * at once; lowering it interrupts nothing.
     * </pre>
     */
    public dev.workpool.v1.UpdatePoolResponse updatePool(dev.workpool.v1.UpdatePoolRequest request) throws io.grpc.StatusException {
      return io.grpc.stub.ClientCalls.blockingV2UnaryCall(
          getChannel(), getUpdatePoolMethod(), getCallOptions(), request);
    }

    /**
     * <pre>
     * DeletePool deletes a pool. It returns NOT_FOUND when the pool does not
     * exist and FAILED_PRECONDITION while it has pending or running items.
     * </pre>
     */
    public dev.workpool.v1.DeletePoolResponse deletePool(dev.workpool.v1.DeletePoolRequest request) throws io.grpc.StatusException {
      return io.grpc.stub.ClientCalls.blockingV2UnaryCall(
          getChannel(), getDeletePoolMethod(), getCallOptions(), request);
    }
  }

  /**
   * A stub to allow clients to do limited synchronous rpc calls to service PoolService.
   * <pre>
   * PoolService creates, reads, changes and deletes pools.
   * </pre>
   */
  public static final class PoolServiceBlockingStub
      extends io.grpc.stub.AbstractBlockingStub<PoolServiceBlockingStub> {
    private PoolServiceBlockingStub(
        io.grpc.Channel channel, io.grpc.CallOptions callOptions) {
      super(channel, callOptions);
    }

    @java.lang.Override
    protected PoolServiceBlockingStub build(
        io.grpc.Channel channel, io.grpc.CallOptions callOptions) {
      return new PoolServiceBlockingStub(channel, callOptions);
    }

    /**
     * <pre>
     * CreatePool creates a pool. It returns ALREADY_EXISTS when a pool of that
     * name exists and INVALID_ARGUMENT naming the field for a bad setting.
     * </pre>
     */
    public dev.workpool.v1.CreatePoolResponse createPool(dev.workpool.v1.CreatePoolRequest request) {
      return io.grpc.stub.ClientCalls.blockingUnaryCall(
          getChannel(), getCreatePoolMethod(), getCallOptions(), request);
    }

    /**
     * <pre>
     * GetPool returns a pool and its counts, or NOT_FOUND.
     * </pre>
     */
    public dev.workpool.v1.GetPoolResponse getPool(dev.workpool.v1.GetPoolRequest request) {
      return io.grpc.stub.ClientCalls.blockingUnaryCall(
          getChannel(), getGetPoolMethod(), getCallOptions(), request);
    }

    /**
     * <pre>
     * ListPools returns pools in name order, one page at a time.
     * </pre>
     */
    public dev.workpool.v1.ListPoolsResponse listPools(dev.workpool.v1.ListPoolsRequest request) {
      return io.grpc.stub.ClientCalls.blockingUnaryCall(
          getChannel(), getListPoolsMethod(), getCallOptions(), request);
    }

    /**
     * <pre>
     * UpdatePool changes the fields named in update_mask. It returns NOT_FOUND
     * when the pool does not exist. Raising max_parallelism starts waiting work
     * at once; lowering it interrupts nothing.
     * </pre>
     */
    public dev.workpool.v1.UpdatePoolResponse updatePool(dev.workpool.v1.UpdatePoolRequest request) {
      return io.grpc.stub.ClientCalls.blockingUnaryCall(
          getChannel(), getUpdatePoolMethod(), getCallOptions(), request);
    }

    /**
     * <pre>
     * DeletePool deletes a pool. It returns NOT_FOUND when the pool does not
     * exist and FAILED_PRECONDITION while it has pending or running items.
     * </pre>
     */
    public dev.workpool.v1.DeletePoolResponse deletePool(dev.workpool.v1.DeletePoolRequest request) {
      return io.grpc.stub.ClientCalls.blockingUnaryCall(
          getChannel(), getDeletePoolMethod(), getCallOptions(), request);
    }
  }

  /**
   * A stub to allow clients to do ListenableFuture-style rpc calls to service PoolService.
   * <pre>
   * PoolService creates, reads, changes and deletes pools.
   * </pre>
   */
  public static final class PoolServiceFutureStub
      extends io.grpc.stub.AbstractFutureStub<PoolServiceFutureStub> {
    private PoolServiceFutureStub(
        io.grpc.Channel channel, io.grpc.CallOptions callOptions) {
      super(channel, callOptions);
    }

    @java.lang.Override
    protected PoolServiceFutureStub build(
        io.grpc.Channel channel, io.grpc.CallOptions callOptions) {
      return new PoolServiceFutureStub(channel, callOptions);
    }

    /**
     * <pre>
     * CreatePool creates a pool. It returns ALREADY_EXISTS when a pool of that
     * name exists and INVALID_ARGUMENT naming the field for a bad setting.
     * </pre>
     */
    public com.google.common.util.concurrent.ListenableFuture<dev.workpool.v1.CreatePoolResponse> createPool(
        dev.workpool.v1.CreatePoolRequest request) {
      return io.grpc.stub.ClientCalls.futureUnaryCall(
          getChannel().newCall(getCreatePoolMethod(), getCallOptions()), request);
    }

    /**
     * <pre>
     * GetPool returns a pool and its counts, or NOT_FOUND.
     * </pre>
     */
    public com.google.common.util.concurrent.ListenableFuture<dev.workpool.v1.GetPoolResponse> getPool(
        dev.workpool.v1.GetPoolRequest request) {
      return io.grpc.stub.ClientCalls.futureUnaryCall(
          getChannel().newCall(getGetPoolMethod(), getCallOptions()), request);
    }

    /**
     * <pre>
     * ListPools returns pools in name order, one page at a time.
     * </pre>
     */
    public com.google.common.util.concurrent.ListenableFuture<dev.workpool.v1.ListPoolsResponse> listPools(
        dev.workpool.v1.ListPoolsRequest request) {
      return io.grpc.stub.ClientCalls.futureUnaryCall(
          getChannel().newCall(getListPoolsMethod(), getCallOptions()), request);
    }

    /**
     * <pre>
     * UpdatePool changes the fields named in update_mask. It returns NOT_FOUND
     * when the pool does not exist. Raising max_parallelism starts waiting work
     * at once; lowering it interrupts nothing.
     * </pre>
     */
    public com.google.common.util.concurrent.ListenableFuture<dev.workpool.v1.UpdatePoolResponse> updatePool(
        dev.workpool.v1.UpdatePoolRequest request) {
      return io.grpc.stub.ClientCalls.futureUnaryCall(
          getChannel().newCall(getUpdatePoolMethod(), getCallOptions()), request);
    }

    /**
     * <pre>
     * DeletePool deletes a pool. It returns NOT_FOUND when the pool does not
     * exist and FAILED_PRECONDITION while it has pending or running items.
     * </pre>
     */
    public com.google.common.util.concurrent.ListenableFuture<dev.workpool.v1.DeletePoolResponse> deletePool(
        dev.workpool.v1.DeletePoolRequest request) {
      return io.grpc.stub.ClientCalls.futureUnaryCall(
          getChannel().newCall(getDeletePoolMethod(), getCallOptions()), request);
    }
  }

  private static final int METHODID_CREATE_POOL = 0;
  private static final int METHODID_GET_POOL = 1;
  private static final int METHODID_LIST_POOLS = 2;
  private static final int METHODID_UPDATE_POOL = 3;
  private static final int METHODID_DELETE_POOL = 4;

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
        case METHODID_CREATE_POOL:
          serviceImpl.createPool((dev.workpool.v1.CreatePoolRequest) request,
              (io.grpc.stub.StreamObserver<dev.workpool.v1.CreatePoolResponse>) responseObserver);
          break;
        case METHODID_GET_POOL:
          serviceImpl.getPool((dev.workpool.v1.GetPoolRequest) request,
              (io.grpc.stub.StreamObserver<dev.workpool.v1.GetPoolResponse>) responseObserver);
          break;
        case METHODID_LIST_POOLS:
          serviceImpl.listPools((dev.workpool.v1.ListPoolsRequest) request,
              (io.grpc.stub.StreamObserver<dev.workpool.v1.ListPoolsResponse>) responseObserver);
          break;
        case METHODID_UPDATE_POOL:
          serviceImpl.updatePool((dev.workpool.v1.UpdatePoolRequest) request,
              (io.grpc.stub.StreamObserver<dev.workpool.v1.UpdatePoolResponse>) responseObserver);
          break;
        case METHODID_DELETE_POOL:
          serviceImpl.deletePool((dev.workpool.v1.DeletePoolRequest) request,
              (io.grpc.stub.StreamObserver<dev.workpool.v1.DeletePoolResponse>) responseObserver);
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
          getCreatePoolMethod(),
          io.grpc.stub.ServerCalls.asyncUnaryCall(
            new MethodHandlers<
              dev.workpool.v1.CreatePoolRequest,
              dev.workpool.v1.CreatePoolResponse>(
                service, METHODID_CREATE_POOL)))
        .addMethod(
          getGetPoolMethod(),
          io.grpc.stub.ServerCalls.asyncUnaryCall(
            new MethodHandlers<
              dev.workpool.v1.GetPoolRequest,
              dev.workpool.v1.GetPoolResponse>(
                service, METHODID_GET_POOL)))
        .addMethod(
          getListPoolsMethod(),
          io.grpc.stub.ServerCalls.asyncUnaryCall(
            new MethodHandlers<
              dev.workpool.v1.ListPoolsRequest,
              dev.workpool.v1.ListPoolsResponse>(
                service, METHODID_LIST_POOLS)))
        .addMethod(
          getUpdatePoolMethod(),
          io.grpc.stub.ServerCalls.asyncUnaryCall(
            new MethodHandlers<
              dev.workpool.v1.UpdatePoolRequest,
              dev.workpool.v1.UpdatePoolResponse>(
                service, METHODID_UPDATE_POOL)))
        .addMethod(
          getDeletePoolMethod(),
          io.grpc.stub.ServerCalls.asyncUnaryCall(
            new MethodHandlers<
              dev.workpool.v1.DeletePoolRequest,
              dev.workpool.v1.DeletePoolResponse>(
                service, METHODID_DELETE_POOL)))
        .build();
  }

  private static abstract class PoolServiceBaseDescriptorSupplier
      implements io.grpc.protobuf.ProtoFileDescriptorSupplier, io.grpc.protobuf.ProtoServiceDescriptorSupplier {
    PoolServiceBaseDescriptorSupplier() {}

    @java.lang.Override
    public com.google.protobuf.Descriptors.FileDescriptor getFileDescriptor() {
      return dev.workpool.v1.PoolServiceOuterClass.getDescriptor();
    }

    @java.lang.Override
    public com.google.protobuf.Descriptors.ServiceDescriptor getServiceDescriptor() {
      return getFileDescriptor().findServiceByName("PoolService");
    }
  }

  private static final class PoolServiceFileDescriptorSupplier
      extends PoolServiceBaseDescriptorSupplier {
    PoolServiceFileDescriptorSupplier() {}
  }

  private static final class PoolServiceMethodDescriptorSupplier
      extends PoolServiceBaseDescriptorSupplier
      implements io.grpc.protobuf.ProtoMethodDescriptorSupplier {
    private final java.lang.String methodName;

    PoolServiceMethodDescriptorSupplier(java.lang.String methodName) {
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
      synchronized (PoolServiceGrpc.class) {
        result = serviceDescriptor;
        if (result == null) {
          serviceDescriptor = result = io.grpc.ServiceDescriptor.newBuilder(SERVICE_NAME)
              .setSchemaDescriptor(new PoolServiceFileDescriptorSupplier())
              .addMethod(getCreatePoolMethod())
              .addMethod(getGetPoolMethod())
              .addMethod(getListPoolsMethod())
              .addMethod(getUpdatePoolMethod())
              .addMethod(getDeletePoolMethod())
              .build();
        }
      }
    }
    return result;
  }
}
