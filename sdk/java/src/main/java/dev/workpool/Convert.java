package dev.workpool;

import com.google.protobuf.FieldMask;
import com.google.protobuf.Timestamp;
import dev.workpool.v1.AttemptResult;
import dev.workpool.v1.EnqueueBatchRequest;
import dev.workpool.v1.EnqueueRequest;
import dev.workpool.v1.UpdatePoolRequest;
import dev.workpool.v1.WatchCompletionsRequest;
import dev.workpool.v1.WorkSpec;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Objects;

/**
 * Conversions between the SDK's types and the generated messages. The client and the worker
 * build requests and read responses only through this class, so each wire rule lives here once.
 */
final class Convert {
  private Convert() {}

  // Requests.

  static com.google.protobuf.Duration duration(Duration duration) {
    return com.google.protobuf.Duration.newBuilder()
        .setSeconds(duration.getSeconds())
        .setNanos(duration.getNano())
        .build();
  }

  static Timestamp timestamp(Instant instant) {
    return Timestamp.newBuilder()
        .setSeconds(instant.getEpochSecond())
        .setNanos(instant.getNano())
        .build();
  }

  /** Converts a policy, setting every field so that no server default applies. */
  static dev.workpool.v1.RetryPolicy retryPolicy(RetryPolicy policy) {
    dev.workpool.v1.RetryPolicy.Builder message =
        dev.workpool.v1.RetryPolicy.newBuilder()
            .setMaxAttempts(policy.maxAttempts())
            .setInitialBackoff(duration(policy.initialBackoff()))
            .setBase(policy.base());
    if (policy.maxBackoff() != null) {
      message.setMaxBackoff(duration(policy.maxBackoff()));
    }
    return message.build();
  }

  static WorkSpec workSpec(String function, Object args, EnqueueOptions options, String name) {
    requireName(function, "function");
    WorkSpec.Builder spec =
        WorkSpec.newBuilder().setFunction(function).setArgs(Values.toValue(args, name + ".args"));
    if (options.retryEnabled() != null) {
      spec.setRetryEnabled(options.retryEnabled());
    } else if (options.retryPolicy() != null) {
      spec.setRetryPolicy(retryPolicy(options.retryPolicy()));
    }
    OnComplete onComplete = options.onComplete();
    if (onComplete != null) {
      spec.setOnComplete(
          dev.workpool.v1.OnComplete.newBuilder()
              .setFunction(onComplete.function())
              .setContext(Values.toValue(onComplete.context(), name + ".onComplete.context")));
    }
    if (options.runAt() != null) {
      spec.setRunAt(timestamp(options.runAt()));
    } else if (options.runAfter() != null) {
      spec.setRunAfter(duration(options.runAfter()));
    }
    if (options.idempotencyKey() != null) {
      spec.setIdempotencyKey(options.idempotencyKey());
    }
    if (options.concurrencyKey() != null) {
      spec.setConcurrencyKey(options.concurrencyKey());
    }
    spec.setPriority(options.priority());
    if (options.attemptTimeout() != null) {
      spec.setAttemptTimeout(duration(options.attemptTimeout()));
    }
    return spec.build();
  }

  static EnqueueRequest enqueueRequest(
      String pool, String function, Object args, EnqueueOptions options) {
    requireName(pool, "pool");
    return EnqueueRequest.newBuilder()
        .setPool(pool)
        .setWork(workSpec(function, args, options == null ? EnqueueOptions.none() : options, "work"))
        .build();
  }

  static EnqueueBatchRequest enqueueBatchRequest(String pool, List<WorkItem> items) {
    requireName(pool, "pool");
    EnqueueBatchRequest.Builder request = EnqueueBatchRequest.newBuilder().setPool(pool);
    for (int index = 0; index < items.size(); index++) {
      WorkItem item = Objects.requireNonNull(items.get(index), "items[" + index + "]");
      request.addWork(workSpec(item.function(), item.args(), item.options(), "items[" + index + "]"));
    }
    return request.build();
  }

  static WatchCompletionsRequest watchRequest(WatchOptions options, Long afterSequence) {
    WatchCompletionsRequest.Builder request =
        WatchCompletionsRequest.newBuilder()
            .addAllPools(options.pools())
            .addAllWorkIds(options.workIds());
    if (afterSequence != null) {
      request.setAfterSequence(afterSequence);
    }
    return request.build();
  }

  static dev.workpool.v1.Pool pool(String name, PoolSettings settings) {
    requireName(name, "pool name");
    dev.workpool.v1.Pool.Builder pool = dev.workpool.v1.Pool.newBuilder().setName(name);
    if (settings.maxParallelism() != null) {
      pool.setMaxParallelism(settings.maxParallelism());
    }
    if (settings.retryByDefault() != null) {
      pool.setRetryByDefault(settings.retryByDefault());
    }
    if (settings.defaultRetry() != null) {
      pool.setDefaultRetry(retryPolicy(settings.defaultRetry()));
    }
    if (settings.statusTtl() != null) {
      pool.setStatusTtl(duration(settings.statusTtl()));
    }
    if (settings.keepStatusForever() != null) {
      pool.setKeepStatusForever(settings.keepStatusForever());
    }
    if (settings.maxPerKey() != null) {
      pool.setMaxPerKey(settings.maxPerKey());
    }
    if (settings.priorityAging() != null) {
      pool.setPriorityAging(duration(settings.priorityAging()));
    }
    if (settings.rateLimit() != null) {
      pool.setRateLimit(
          dev.workpool.v1.RateLimit.newBuilder()
              .setPerSecond(settings.rateLimit().perSecond())
              .setBurst(settings.rateLimit().burst()));
    }
    if (settings.defaultAttemptTimeout() != null) {
      pool.setDefaultAttemptTimeout(duration(settings.defaultAttemptTimeout()));
    }
    if (settings.circuitBreaker() != null) {
      pool.setCircuitBreaker(circuitBreaker(settings.circuitBreaker()));
    }
    if (settings.parent() != null) {
      pool.setParent(settings.parent());
    }
    return pool.build();
  }

  static dev.workpool.v1.CircuitBreaker circuitBreaker(CircuitBreaker breaker) {
    dev.workpool.v1.CircuitBreaker.Builder message =
        dev.workpool.v1.CircuitBreaker.newBuilder()
            .setFailureRate(breaker.failureRate())
            .setMinAttempts(breaker.minAttempts());
    if (breaker.window() != null) {
      message.setWindow(duration(breaker.window()));
    }
    if (breaker.coolDown() != null) {
      message.setCoolDown(duration(breaker.coolDown()));
    }
    return message.build();
  }

  /** Builds an UpdatePoolRequest whose mask names exactly the set settings. */
  static UpdatePoolRequest updatePoolRequest(String name, PoolSettings settings) {
    List<String> paths = settings.setFieldPaths();
    if (paths.isEmpty()) {
      throw new IllegalArgumentException(
          "updatePool needs at least one setting to change, such as maxParallelism(5)");
    }
    return UpdatePoolRequest.newBuilder()
        .setPool(pool(name, settings))
        .setUpdateMask(FieldMask.newBuilder().addAllPaths(paths))
        .build();
  }

  static void requireName(String value, String label) {
    if (value == null || value.isEmpty()) {
      throw new IllegalArgumentException(label + " must be a non-empty string, got " + value);
    }
  }

  // Responses.

  static Duration duration(com.google.protobuf.Duration duration) {
    return Duration.ofSeconds(duration.getSeconds(), duration.getNanos());
  }

  static Instant instant(Timestamp timestamp) {
    return Instant.ofEpochSecond(timestamp.getSeconds(), timestamp.getNanos());
  }

  static RetryPolicy retryPolicy(dev.workpool.v1.RetryPolicy message) {
    return new RetryPolicy(
        message.hasMaxAttempts() ? message.getMaxAttempts() : RetryPolicy.DEFAULT_MAX_ATTEMPTS,
        message.hasInitialBackoff()
            ? duration(message.getInitialBackoff())
            : RetryPolicy.DEFAULT_INITIAL_BACKOFF,
        message.hasBase() ? message.getBase() : RetryPolicy.DEFAULT_BASE,
        message.hasMaxBackoff() ? duration(message.getMaxBackoff()) : null);
  }

  /** Converts a Result message, or returns {@code null} when no outcome is set. */
  static Result result(dev.workpool.v1.Result message) {
    switch (message.getOutcomeCase()) {
      case SUCCESS:
        return Result.success(
            message.getSuccess().hasReturnValue()
                ? Values.fromValue(message.getSuccess().getReturnValue())
                : null);
      case FAILURE:
        return Result.failure(
            message.getFailure().getError(), message.getFailure().getNonRetryable());
      case CANCELED:
        return Result.canceled();
      default:
        return null;
    }
  }

  static WorkState workState(dev.workpool.v1.WorkState state, String workId) {
    switch (state) {
      case WORK_STATE_PENDING:
        return WorkState.PENDING;
      case WORK_STATE_RUNNING:
        return WorkState.RUNNING;
      case WORK_STATE_FINISHED:
        return WorkState.FINISHED;
      case WORK_STATE_NOT_FOUND:
        return WorkState.NOT_FOUND;
      default:
        throw new InternalException(
            io.grpc.Status.Code.INTERNAL,
            "server sent the unknown work state " + state + " for " + workId
                + "; upgrade the Workpool SDK",
            List.of(),
            null);
    }
  }

  static WorkStatus workStatus(dev.workpool.v1.WorkStatus message) {
    return new WorkStatus(
        message.getWorkId(),
        workState(message.getState(), message.getWorkId()),
        message.getPreviousAttempts(),
        message.hasResult() ? result(message.getResult()) : null,
        message.getPool(),
        message.getFunction(),
        message.hasEnqueuedAt() ? instant(message.getEnqueuedAt()) : null,
        message.hasReadyAt() ? instant(message.getReadyAt()) : null,
        message.hasFinishedAt() ? instant(message.getFinishedAt()) : null,
        message.getLastError().isEmpty() ? null : message.getLastError(),
        message.getConcurrencyKey().isEmpty() ? null : message.getConcurrencyKey(),
        message.getPriority(),
        message.getContinuations());
  }

  static Completion completion(dev.workpool.v1.Completion message) {
    Result result = result(message.getResult());
    if (result == null) {
      throw new InternalException(
          io.grpc.Status.Code.INTERNAL,
          "server sent completion " + message.getSequence() + " of " + message.getWorkId()
              + " without a result",
          List.of(),
          null);
    }
    return new Completion(
        message.getSequence(),
        message.getWorkId(),
        message.getPool(),
        message.getFunction(),
        result,
        message.hasContext() ? Values.fromValue(message.getContext()) : null,
        message.getAttempts(),
        message.hasFinishedAt() ? instant(message.getFinishedAt()) : null,
        message.getContinuations());
  }

  /** Converts a Pool message, filling unset settings with the server's defaults. */
  static Pool pool(dev.workpool.v1.Pool message, dev.workpool.v1.PoolStats stats) {
    return new Pool(
        message.getName(),
        message.hasMaxParallelism() ? message.getMaxParallelism() : Pool.DEFAULT_MAX_PARALLELISM,
        message.getRetryByDefault(),
        message.hasDefaultRetry() ? retryPolicy(message.getDefaultRetry()) : RetryPolicy.defaults(),
        message.hasStatusTtl() ? duration(message.getStatusTtl()) : Pool.DEFAULT_STATUS_TTL,
        message.getKeepStatusForever(),
        message.getMaxPerKey(),
        message.hasPriorityAging()
            ? duration(message.getPriorityAging())
            : Pool.DEFAULT_PRIORITY_AGING,
        message.hasRateLimit()
            ? new RateLimit(message.getRateLimit().getPerSecond(), message.getRateLimit().getBurst())
            : null,
        message.hasDefaultAttemptTimeout() ? duration(message.getDefaultAttemptTimeout()) : null,
        message.hasCircuitBreaker() ? circuitBreaker(message.getCircuitBreaker()) : null,
        message.getParent().isEmpty() ? null : message.getParent(),
        stats == null ? null : poolStats(stats));
  }

  /** Converts a CircuitBreaker message; unset fields stay unset, as the server sent them. */
  static CircuitBreaker circuitBreaker(dev.workpool.v1.CircuitBreaker message) {
    return new CircuitBreaker(
        message.getFailureRate(),
        message.hasWindow() ? duration(message.getWindow()) : null,
        message.getMinAttempts(),
        message.hasCoolDown() ? duration(message.getCoolDown()) : null);
  }

  static PoolStats poolStats(dev.workpool.v1.PoolStats stats) {
    return new PoolStats(
        stats.getPendingCount(),
        stats.getRunningCount(),
        circuitState(stats.getCircuitState()),
        stats.hasCircuitOpenUntil() ? instant(stats.getCircuitOpenUntil()) : null,
        stats.getBorrowedCount());
  }

  static CircuitState circuitState(dev.workpool.v1.CircuitState state) {
    switch (state) {
      case CIRCUIT_STATE_CLOSED:
        return CircuitState.CLOSED;
      case CIRCUIT_STATE_OPEN:
        return CircuitState.OPEN;
      case CIRCUIT_STATE_HALF_OPEN:
        return CircuitState.HALF_OPEN;
      default:
        return CircuitState.UNSPECIFIED;
    }
  }

  static CancelOutcome cancelOutcome(dev.workpool.v1.CancelOutcome outcome) {
    switch (outcome) {
      case CANCEL_OUTCOME_CANCELED:
        return CancelOutcome.CANCELED;
      case CANCEL_OUTCOME_CANCEL_REQUESTED:
        return CancelOutcome.CANCEL_REQUESTED;
      case CANCEL_OUTCOME_ALREADY_FINISHED:
        return CancelOutcome.ALREADY_FINISHED;
      case CANCEL_OUTCOME_NOT_FOUND:
        return CancelOutcome.NOT_FOUND;
      default:
        throw new InternalException(
            io.grpc.Status.Code.INTERNAL,
            "server sent the unknown cancel outcome " + outcome + "; upgrade the Workpool SDK",
            List.of(),
            null);
    }
  }

  // Worker results.

  static AttemptResult success(String workId, int attempt, Object returnValue) {
    AttemptResult.Builder result = AttemptResult.newBuilder().setWorkId(workId).setAttempt(attempt);
    result.getSuccessBuilder().setReturnValue(Values.toValue(returnValue, "return value"));
    return result.build();
  }

  static AttemptResult continuation(String workId, int attempt, Object args) {
    AttemptResult.Builder result = AttemptResult.newBuilder().setWorkId(workId).setAttempt(attempt);
    result.getContinuationBuilder().setArgs(Values.toValue(args, "continuation args"));
    return result.build();
  }

  static AttemptResult failure(String workId, int attempt, String error, boolean nonRetryable) {
    AttemptResult.Builder result = AttemptResult.newBuilder().setWorkId(workId).setAttempt(attempt);
    result.getFailureBuilder().setError(error).setNonRetryable(nonRetryable);
    return result.build();
  }
}
