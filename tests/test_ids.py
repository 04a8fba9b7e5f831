"""Work id encoding, checked against a digit-by-digit ULID encoder."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from workpool_server.ids import WorkIdGenerator, _encode, is_valid_work_id

CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


def encode_digit_by_digit(value: int, length: int) -> str:
    digits = [CROCKFORD[(value >> (5 * place)) & 31] for place in range(length)]
    return "".join(reversed(digits))


@given(st.integers(min_value=0, max_value=(1 << 48) - 1))
def test_time_part_matches_reference(millis):
    assert _encode(millis, 10) == encode_digit_by_digit(millis, 10)


@given(st.integers(min_value=0, max_value=(1 << 80) - 1))
def test_random_part_matches_reference(randomness):
    assert _encode(randomness, 16) == encode_digit_by_digit(randomness, 16)


def test_ids_increase_within_millisecond():
    generator = WorkIdGenerator()
    now_us = 1_700_000_000_000_000

    ids = [generator.new_id(now_us + offset) for offset in range(500)]

    assert ids == sorted(ids)
    assert len(set(ids)) == len(ids)
    assert all(is_valid_work_id(work_id) for work_id in ids)
