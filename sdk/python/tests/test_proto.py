from datetime import UTC, datetime, timedelta

import pytest
from google.protobuf import duration_pb2

from workpool import (
    CancelOutcome,
    OnComplete,
    Pool,
    ResultKind,
    RetryPolicy,
    WorkItem,
    WorkState,
)
from workpool._errors import WorkpoolError
from workpool._proto import (
    cancel_outcome_from_proto,
    completion_from_proto,
    enqueue_batch_request,
    pool_from_proto,
    pool_settings_differ,
    pool_settings_to_proto,
    status_from_proto,
    update_pool_request,
    work_item_to_spec,
)
from workpool._values import to_value
from workpool.v1 import types_pb2, workpool_service_pb2

# Update masks.


def test_update_mask_lists_only_given_settings() -> None:
    request = update_pool_request("emails", {"max_parallelism": 5})

    assert list(request.update_mask.paths) == ["max_parallelism"]
    assert request.pool.name == "emails"
    assert request.pool.max_parallelism == 5
    assert not request.pool.HasField("default_retry")


def test_update_mask_follows_settings_order() -> None:
    request = update_pool_request(
        "emails",
        {
            "keep_status_forever": True,
            "default_retry": RetryPolicy(max_attempts=2),
            "retry_by_default": False,
        },
    )

    assert list(request.update_mask.paths) == [
        "retry_by_default",
        "default_retry",
        "keep_status_forever",
    ]
    assert request.pool.default_retry.max_attempts == 2
    assert request.pool.keep_status_forever is True


def test_update_mask_keeps_false_and_zero() -> None:
    request = update_pool_request(
        "emails", {"max_parallelism": 0, "retry_by_default": False}
    )

    assert list(request.update_mask.paths) == ["max_parallelism", "retry_by_default"]
    assert request.pool.HasField("max_parallelism")
    assert request.pool.max_parallelism == 0


@pytest.mark.parametrize("field", ["default_retry", "status_ttl"])
def test_update_mask_none_resets_to_default(field: str) -> None:
    request = update_pool_request("emails", {field: None})

    assert list(request.update_mask.paths) == [field]
    assert not request.pool.HasField(field)


@pytest.mark.parametrize("field", ["max_parallelism", "retry_by_default"])
def test_update_mask_none_rejected_for_required_value(field: str) -> None:
    with pytest.raises(TypeError, match=f"pool setting {field} cannot be None"):
        update_pool_request("emails", {field: None})


def test_update_mask_empty_rejected() -> None:
    with pytest.raises(ValueError, match="at least one setting"):
        update_pool_request("emails", {})


def test_pool_settings_unknown_rejected() -> None:
    with pytest.raises(TypeError, match="unknown pool setting max_parallel;"):
        pool_settings_to_proto("emails", {"max_parallel": 3})


def test_pool_settings_negative_parallelism_rejected() -> None:
    with pytest.raises(ValueError, match="max_parallelism is -1"):
        pool_settings_to_proto("emails", {"max_parallelism": -1})


def test_pool_settings_status_ttl_converted() -> None:
    pool, paths = pool_settings_to_proto("emails", {"status_ttl": timedelta(hours=2)})

    assert paths == ["status_ttl"]
    assert pool.status_ttl == duration_pb2.Duration(seconds=7200)


def test_pool_settings_empty_name_rejected() -> None:
    with pytest.raises(ValueError, match="pool must be a non-empty str"):
        pool_settings_to_proto("", {})


# ensure_pool comparison.


def test_pool_settings_differ_ignores_none_and_equal() -> None:
    pool = Pool(name="emails", max_parallelism=10, retry_by_default=True)

    changed = pool_settings_differ(
        pool,
        {"max_parallelism": 10, "retry_by_default": False, "status_ttl": None},
    )

    assert changed == {"retry_by_default": False}


def test_pool_settings_differ_compares_retry_policy() -> None:
    pool = Pool(name="emails", default_retry=RetryPolicy())

    same = pool_settings_differ(pool, {"default_retry": RetryPolicy()})
    changed = pool_settings_differ(pool, {"default_retry": RetryPolicy(base=3)})

    assert same == {}
    assert changed == {"default_retry": RetryPolicy(base=3)}


# Work specs.


def test_work_spec_retry_variants() -> None:
    unset = work_item_to_spec(WorkItem("f"))
    enabled = work_item_to_spec(WorkItem("f", retry=True))
    disabled = work_item_to_spec(WorkItem("f", retry=False))
    custom = work_item_to_spec(
        WorkItem(
            "f", retry=RetryPolicy(max_attempts=3, max_backoff=timedelta(seconds=9))
        )
    )

    assert unset.WhichOneof("retry") is None
    assert enabled.WhichOneof("retry") == "retry_enabled"
    assert enabled.retry_enabled is True
    assert disabled.WhichOneof("retry") == "retry_enabled"
    assert disabled.retry_enabled is False
    assert custom.WhichOneof("retry") == "retry_policy"
    assert custom.retry_policy.max_attempts == 3
    assert custom.retry_policy.initial_backoff.ToMilliseconds() == 250
    assert custom.retry_policy.base == 2.0
    assert custom.retry_policy.max_backoff.seconds == 9


def test_work_spec_fields() -> None:
    run_at = datetime(2030, 5, 6, 7, 8, 9, tzinfo=UTC)
    spec = work_item_to_spec(
        WorkItem(
            "email.send",
            {"to": "a@example.com"},
            on_complete=OnComplete("email.done", {"user": 7}),
            run_at=run_at,
            idempotency_key="signup-7",
        )
    )

    assert spec.function == "email.send"
    assert spec.args.struct_value.fields["to"].string_value == "a@example.com"
    assert spec.on_complete.function == "email.done"
    assert spec.on_complete.context.struct_value.fields["user"].number_value == 7
    assert spec.WhichOneof("schedule") == "run_at"
    assert spec.run_at.ToDatetime(tzinfo=UTC) == run_at
    assert spec.idempotency_key == "signup-7"


def test_work_spec_run_after() -> None:
    spec = work_item_to_spec(WorkItem("f", run_after=timedelta(minutes=5)))

    assert spec.WhichOneof("schedule") == "run_after"
    assert spec.run_after.seconds == 300


def test_work_spec_none_args_is_null_value() -> None:
    spec = work_item_to_spec(WorkItem("f"))

    assert spec.args.WhichOneof("kind") == "null_value"


def test_work_spec_naive_run_at_rejected() -> None:
    with pytest.raises(ValueError, match="work.run_at is a naive datetime"):
        work_item_to_spec(WorkItem("f", run_at=datetime(2030, 1, 1)))


def test_work_item_run_at_and_run_after_rejected() -> None:
    with pytest.raises(ValueError, match="run_at and run_after are both set"):
        WorkItem("f", run_at=datetime.now(UTC), run_after=timedelta(seconds=1))


def test_work_item_bad_retry_rejected() -> None:
    with pytest.raises(TypeError, match="retry must be None, True, False"):
        WorkItem("f", retry=3)  # type: ignore[arg-type]


def test_work_item_empty_function_rejected() -> None:
    with pytest.raises(ValueError, match="function must be a non-empty str"):
        WorkItem("")


def test_enqueue_batch_names_item_in_errors() -> None:
    items = [WorkItem("f", 1), WorkItem("f", {"bad": {1, 2}})]

    with pytest.raises(TypeError, match=r"items\[1\]\.args\['bad'\] has type set"):
        enqueue_batch_request("emails", items)


def test_enqueue_batch_rejects_non_work_item() -> None:
    with pytest.raises(TypeError, match=r"items\[0\] must be a WorkItem, got dict"):
        enqueue_batch_request("emails", [{"function": "f"}])


# Responses.


def test_pool_from_proto_fills_defaults() -> None:
    pool = pool_from_proto(types_pb2.Pool(name="emails"))

    assert pool == Pool(name="emails")
    assert pool.default_retry == RetryPolicy()
    assert pool.status_ttl == timedelta(hours=24)


def test_pool_from_proto_with_stats() -> None:
    message = types_pb2.Pool(name="emails", max_parallelism=0, retry_by_default=True)
    stats = types_pb2.PoolStats(pending_count=4, running_count=1)

    pool = pool_from_proto(message, stats)

    assert pool.max_parallelism == 0
    assert pool.retry_by_default is True
    assert pool.stats is not None
    assert pool.stats.pending_count == 4
    assert pool.stats.running_count == 1


def test_status_from_proto_finished() -> None:
    message = types_pb2.WorkStatus(
        work_id="wk_1",
        state=types_pb2.WORK_STATE_FINISHED,
        previous_attempts=2,
        pool="emails",
        function="email.send",
        last_error="TimeoutError: smtp",
    )
    message.result.success.return_value.CopyFrom(to_value({"sent": True}))
    message.finished_at.FromDatetime(datetime(2030, 1, 1, tzinfo=UTC))

    status = status_from_proto(message)

    assert status.state is WorkState.FINISHED
    assert status.previous_attempts == 2
    assert status.result is not None
    assert status.result.kind is ResultKind.SUCCESS
    assert status.result.return_value == {"sent": True}
    assert status.finished_at == datetime(2030, 1, 1, tzinfo=UTC)
    assert status.enqueued_at is None
    assert status.last_error == "TimeoutError: smtp"


def test_status_from_proto_pending_has_no_result() -> None:
    message = types_pb2.WorkStatus(work_id="wk_1", state=types_pb2.WORK_STATE_PENDING)

    status = status_from_proto(message)

    assert status.state is WorkState.PENDING
    assert status.result is None
    assert status.last_error is None


def test_status_from_proto_unknown_state_rejected() -> None:
    message = types_pb2.WorkStatus(
        work_id="wk_1", state=types_pb2.WORK_STATE_UNSPECIFIED
    )

    with pytest.raises(WorkpoolError, match="unknown work state 0 for wk_1"):
        status_from_proto(message)


def test_completion_from_proto_failure() -> None:
    message = types_pb2.Completion(sequence=9, work_id="wk_1", attempts=3)
    message.result.failure.error = "ValueError: no"
    message.result.failure.non_retryable = True
    message.context.CopyFrom(to_value(["ctx"]))

    completion = completion_from_proto(message)

    assert completion.sequence == 9
    assert completion.result.kind is ResultKind.FAILURE
    assert completion.result.error == "ValueError: no"
    assert completion.result.non_retryable is True
    assert completion.context == ["ctx"]
    assert completion.attempts == 3


def test_completion_from_proto_without_result_rejected() -> None:
    with pytest.raises(WorkpoolError, match="completion 4 of wk_1 without a result"):
        completion_from_proto(types_pb2.Completion(sequence=4, work_id="wk_1"))


def test_cancel_outcomes_cover_proto_enum() -> None:
    values = workpool_service_pb2.CancelOutcome.values()
    outcomes = {
        cancel_outcome_from_proto(v)
        for v in values
        if v != workpool_service_pb2.CANCEL_OUTCOME_UNSPECIFIED
    }

    assert outcomes == set(CancelOutcome)


def test_work_states_cover_proto_enum() -> None:
    states = {
        status_from_proto(types_pb2.WorkStatus(state=v)).state
        for v in types_pb2.WorkState.values()
        if v != types_pb2.WORK_STATE_UNSPECIFIED
    }

    assert states == set(WorkState)
