import pytest

from workpool._backoff import Backoff
from workpool._watch import WatchCursor
from workpool.v1 import types_pb2, workpool_service_pb2


def response(
    head: int, *sequences: int
) -> workpool_service_pb2.WatchCompletionsResponse:
    message = workpool_service_pb2.WatchCompletionsResponse(head_sequence=head)
    for sequence in sequences:
        completion = types_pb2.Completion(sequence=sequence, work_id=f"wk_{sequence}")
        completion.result.canceled.SetInParent()
        message.completions.append(completion)
    return message


def test_cursor_without_start_resumes_from_head() -> None:
    cursor = WatchCursor(["emails"], [], None)

    assert not cursor.request().HasField("after_sequence")
    assert cursor.accept(response(41)) == []
    assert cursor.last_sequence == 41
    assert cursor.request().after_sequence == 41


def test_cursor_first_response_with_completions_yields_them() -> None:
    cursor = WatchCursor([], [], None)

    completions = cursor.accept(response(12, 11, 12))

    assert [c.sequence for c in completions] == [11, 12]
    assert cursor.last_sequence == 12


def test_cursor_skips_sequences_already_yielded() -> None:
    cursor = WatchCursor([], [], 10)
    cursor.accept(response(12, 11, 12))

    replayed = cursor.accept(response(14, 11, 12, 13, 14))

    assert [c.sequence for c in replayed] == [13, 14]
    assert cursor.request().after_sequence == 14


def test_cursor_head_does_not_move_position_backwards() -> None:
    cursor = WatchCursor([], [], 20)

    cursor.accept(response(5))

    assert cursor.last_sequence == 20


def test_cursor_request_carries_filters() -> None:
    request = WatchCursor(["a", "b"], ["wk_1"], 0).request()

    assert list(request.pools) == ["a", "b"]
    assert list(request.work_ids) == ["wk_1"]
    assert request.HasField("after_sequence")
    assert request.after_sequence == 0


def test_cursor_rejects_single_str_filter() -> None:
    with pytest.raises(TypeError, match="pools must be a list of str"):
        WatchCursor("emails", [], None)  # type: ignore[arg-type]


def test_cursor_rejects_non_int_sequence() -> None:
    with pytest.raises(TypeError, match="after_sequence must be an int or None"):
        WatchCursor([], [], "5")  # type: ignore[arg-type]


def test_backoff_grows_and_caps() -> None:
    backoff = Backoff(initial=1.0, maximum=5.0, random_factor=lambda: 0.5)

    delays = [backoff.next_delay() for _ in range(5)]

    assert delays == [1.0, 2.0, 4.0, 5.0, 5.0]


def test_backoff_jitter_range() -> None:
    low = Backoff(initial=1.0, random_factor=lambda: 0.0)
    high = Backoff(initial=1.0, random_factor=lambda: 0.999)

    assert low.next_delay() == 0.5
    assert high.next_delay() == pytest.approx(1.499)


def test_backoff_reset_starts_over() -> None:
    backoff = Backoff(initial=1.0, random_factor=lambda: 0.5)
    backoff.next_delay()
    backoff.next_delay()

    backoff.reset()

    assert backoff.next_delay() == 1.0
