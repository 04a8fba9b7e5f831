package dev.workpool;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.protobuf.Timestamp;
import dev.workpool.v1.AttemptResult;
import dev.workpool.v1.UpdatePoolRequest;
import dev.workpool.v1.WorkSpec;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class SchedulingConvertTest {
  @Test
  void enqueueOptionsSetSchedulingFields() {
    EnqueueOptions options =
        EnqueueOptions.builder()
            .concurrencyKey("tenant-7")
            .priority(-3)
            .attemptTimeout(Duration.ofMillis(1500))
            .build();

    WorkSpec spec = Convert.workSpec("f", null, options, "work");

    assertEquals("tenant-7", spec.getConcurrencyKey());
    assertEquals(-3, spec.getPriority());
    assertEquals(1, spec.getAttemptTimeout().getSeconds());
    assertEquals(500_000_000, spec.getAttemptTimeout().getNanos());
  }

  @Test
  void unsetSchedulingFieldsStayUnset() {
    WorkSpec spec = Convert.workSpec("f", null, EnqueueOptions.none(), "work");

    assertEquals("", spec.getConcurrencyKey());
    assertEquals(0, spec.getPriority());
    assertFalse(spec.hasAttemptTimeout());
  }

  @Test
  void invalidSchedulingInputRejected() {
    EnqueueOptions.Builder options = EnqueueOptions.builder();
    assertThrows(IllegalArgumentException.class, () -> options.attemptTimeout(Duration.ZERO));
    assertThrows(IllegalArgumentException.class, () -> PoolSettings.builder().maxPerKey(-1));
    assertThrows(IllegalArgumentException.class, () -> RateLimit.perSecond(0));
    assertThrows(IllegalArgumentException.class, () -> CircuitBreaker.of(1.5));
    assertThrows(
        IllegalArgumentException.class,
        () -> new CircuitBreaker(0.5, Duration.ofSeconds(-1), 0, null));
  }

  @Test
  void poolSettingsListSchedulingPaths() {
    PoolSettings settings =
        PoolSettings.builder()
            .maxPerKey(2)
            .priorityAging(Duration.ofMillis(250))
            .rateLimit(new RateLimit(5, 10))
            .defaultAttemptTimeout(Duration.ofSeconds(30))
            .circuitBreaker(new CircuitBreaker(0.5, null, 0, Duration.ofSeconds(2)))
            .parent("shared")
            .build();

    UpdatePoolRequest request = Convert.updatePoolRequest("p", settings);

    assertEquals(
        List.of(
            "max_per_key",
            "priority_aging",
            "rate_limit",
            "default_attempt_timeout",
            "circuit_breaker",
            "parent"),
        request.getUpdateMask().getPathsList());
    dev.workpool.v1.Pool pool = request.getPool();
    assertEquals(2, pool.getMaxPerKey());
    assertEquals(250_000_000, pool.getPriorityAging().getNanos());
    assertEquals(5.0, pool.getRateLimit().getPerSecond());
    assertEquals(10, pool.getRateLimit().getBurst());
    assertEquals(30, pool.getDefaultAttemptTimeout().getSeconds());
    assertEquals(0.5, pool.getCircuitBreaker().getFailureRate());
    assertFalse(pool.getCircuitBreaker().hasWindow());
    assertEquals(2, pool.getCircuitBreaker().getCoolDown().getSeconds());
    assertEquals("shared", pool.getParent());
  }

  @Test
  void poolAndStatsConvertSchedulingFields() {
    dev.workpool.v1.Pool message =
        dev.workpool.v1.Pool.newBuilder()
            .setName("p")
            .setMaxPerKey(3)
            .setRateLimit(dev.workpool.v1.RateLimit.newBuilder().setPerSecond(2.5).setBurst(4))
            .setCircuitBreaker(
                dev.workpool.v1.CircuitBreaker.newBuilder().setFailureRate(0.25).setMinAttempts(20))
            .setParent("shared")
            .build();
    dev.workpool.v1.PoolStats stats =
        dev.workpool.v1.PoolStats.newBuilder()
            .setCircuitState(dev.workpool.v1.CircuitState.CIRCUIT_STATE_OPEN)
            .setCircuitOpenUntil(Timestamp.newBuilder().setSeconds(20))
            .setBorrowedCount(2)
            .build();

    Pool pool = Convert.pool(message, stats);

    assertEquals(3, pool.maxPerKey());
    assertEquals(Pool.DEFAULT_PRIORITY_AGING, pool.priorityAging());
    assertEquals(new RateLimit(2.5, 4), pool.rateLimit());
    assertNull(pool.defaultAttemptTimeout());
    assertEquals(new CircuitBreaker(0.25, null, 20, null), pool.circuitBreaker());
    assertEquals("shared", pool.parent());
    assertEquals(CircuitState.OPEN, pool.stats().circuitState());
    assertEquals(Instant.ofEpochSecond(20), pool.stats().circuitOpenUntil());
    assertEquals(2, pool.stats().borrowedCount());
  }

  @Test
  void onlyDifferingSchedulingSettingsChange() {
    Pool pool =
        Convert.pool(
            dev.workpool.v1.Pool.newBuilder()
                .setName("p")
                .setMaxPerKey(2)
                .setCircuitBreaker(
                    dev.workpool.v1.CircuitBreaker.newBuilder()
                        .setFailureRate(0.5)
                        .setWindow(com.google.protobuf.Duration.newBuilder().setSeconds(60)))
                .build(),
            null);

    PoolSettings same =
        PoolSettings.builder().maxPerKey(2).circuitBreaker(CircuitBreaker.of(0.5)).build();
    PoolSettings changed =
        PoolSettings.builder().maxPerKey(1).rateLimit(RateLimit.perSecond(5)).build();

    assertTrue(same.differingFrom(pool).setFieldPaths().isEmpty());
    assertEquals(List.of("max_per_key", "rate_limit"), changed.differingFrom(pool).setFieldPaths());
  }

  @Test
  void statusAndCompletionCarrySchedulingFields() {
    WorkStatus status =
        Convert.workStatus(
            dev.workpool.v1.WorkStatus.newBuilder()
                .setWorkId("wk_1")
                .setState(dev.workpool.v1.WorkState.WORK_STATE_PENDING)
                .setConcurrencyKey("tenant-a")
                .setPriority(5)
                .setContinuations(2)
                .build());
    dev.workpool.v1.Completion.Builder completion =
        dev.workpool.v1.Completion.newBuilder().setSequence(1).setWorkId("wk_1").setContinuations(2);
    completion.getResultBuilder().getCanceledBuilder();

    assertEquals("tenant-a", status.concurrencyKey());
    assertEquals(5, status.priority());
    assertEquals(2, status.continuations());
    assertEquals(2, Convert.completion(completion.build()).continuations());
  }

  @Test
  void continuationCarriesNextArgs() {
    AttemptResult result = Convert.continuation("wk_1", 1, Map.of("page", 2));

    assertTrue(result.hasContinuation());
    assertEquals(Map.of("page", 2.0), Values.fromValue(result.getContinuation().getArgs()));
  }
}
