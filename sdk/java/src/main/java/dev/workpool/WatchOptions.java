package dev.workpool;

import java.util.List;

/**
 * What {@link WorkpoolClient#watchCompletions} follows: pools and work ids to filter by (empty
 * means all), and the sequence to replay after ({@code null} follows live from the log's end).
 */
public final class WatchOptions {
  private final List<String> pools;
  private final List<String> workIds;
  private final Long afterSequence;

  private WatchOptions(Builder builder) {
    this.pools = List.copyOf(builder.pools);
    this.workIds = List.copyOf(builder.workIds);
    this.afterSequence = builder.afterSequence;
  }

  public static Builder builder() {
    return new Builder();
  }

  public List<String> pools() {
    return pools;
  }

  public List<String> workIds() {
    return workIds;
  }

  public Long afterSequence() {
    return afterSequence;
  }

  /** Builder of {@link WatchOptions}. */
  public static final class Builder {
    private List<String> pools = List.of();
    private List<String> workIds = List.of();
    private Long afterSequence;

    private Builder() {}

    public Builder pools(String... pools) {
      return pools(List.of(pools));
    }

    public Builder pools(List<String> pools) {
      this.pools = List.copyOf(pools);
      return this;
    }

    public Builder workIds(List<String> workIds) {
      if (workIds.size() > 1000) {
        throw new IllegalArgumentException(
            "workIds has " + workIds.size() + " ids; the server accepts at most 1,000");
      }
      this.workIds = List.copyOf(workIds);
      return this;
    }

    /** Replays completions with a greater sequence, then follows live; 0 replays the whole log. */
    public Builder afterSequence(long afterSequence) {
      if (afterSequence < 0) {
        throw new IllegalArgumentException(
            "afterSequence is " + afterSequence + "; use 0 or more");
      }
      this.afterSequence = afterSequence;
      return this;
    }

    public WatchOptions build() {
      return new WatchOptions(this);
    }
  }
}
