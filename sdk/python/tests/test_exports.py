import workpool


def test_all_is_sorted() -> None:
    assert workpool.__all__ == sorted(workpool.__all__)


def test_all_names_exist() -> None:
    missing = [name for name in workpool.__all__ if not hasattr(workpool, name)]

    assert missing == []


def test_exported_members_come_from_workpool() -> None:
    for name in workpool.__all__:
        member = getattr(workpool, name)
        assert member.__module__.startswith("workpool."), name


def test_channel_options_match_server_keepalive() -> None:
    from workpool._channel import channel_options

    options = dict(channel_options(None))

    assert options["grpc.keepalive_time_ms"] == 30_000
    assert options["grpc.keepalive_timeout_ms"] == 10_000
    assert options["grpc.keepalive_permit_without_calls"] == 1
    assert options["grpc.http2.max_pings_without_data"] == 0
    assert options["grpc.max_receive_message_length"] == 64 * 1024 * 1024
    assert options["grpc.max_send_message_length"] == 64 * 1024 * 1024


def test_channel_options_caller_wins() -> None:
    from workpool._channel import channel_options

    options = dict(channel_options([("grpc.keepalive_time_ms", 60_000)]))

    assert options["grpc.keepalive_time_ms"] == 60_000
