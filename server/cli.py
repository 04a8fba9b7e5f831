"""The `workpool` command: run the server, or talk to a running one."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from collections.abc import Sequence
from datetime import timedelta
from typing import Any

from sqlalchemy.exc import SQLAlchemyError

from workpool_server import cli_output
from workpool_server.cli_bulk import (
    InputFileError,
    enqueue_items,
    follow_work_ids,
    read_items,
    read_work_ids,
)
from workpool_server.config import ConfigError, load_config, parse_duration_us
from workpool_server.errors import WorkpoolError
from workpool_server.security import ROLES, TlsSetupError, hash_token, new_token

DEFAULT_SERVER = "127.0.0.1:50051"


def _duration(text: str) -> timedelta:
    try:
        return timedelta(microseconds=parse_duration_us(text, "duration"))
    except ConfigError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a whole number of 1 or more: {text}")
    return value


def _json_value(text: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError as error:
        raise argparse.ArgumentTypeError(f"invalid JSON: {error}") from None
    except RecursionError:
        raise argparse.ArgumentTypeError(
            "invalid JSON: nested too deeply; the server accepts 32 levels"
        ) from None


# Help for each `workpool serve` flag; every setting of the server has one.
SERVE_FLAGS = {
    "database_url": "sqlite:///PATH (default sqlite:///./workpool.db) or "
    "postgresql://USER@HOST/DB",
    "listen": "gRPC address (default 127.0.0.1:50051)",
    "http_listen": "metrics address (default 127.0.0.1:9464; empty turns it off)",
    "lease_duration": "lease length of an attempt (default 30s)",
    "heartbeat_interval": "heartbeat period asked of workers (default 10s)",
    "shutdown_grace": "time workers get to report after SIGTERM (default 10s)",
    "completion_retention": "how long the completion log keeps entries (default 24h)",
    "max_payload_bytes": "limit of args, context and return value, in bytes "
    "(default 1048576)",
    "max_batch_size": "items per EnqueueBatch and ids per StatusBatch (default 10000)",
    "max_message_bytes": "gRPC message size limit in bytes (default 67108864)",
    "max_pool_labels": "pools with metric series of their own (default 200)",
    "completion_buffer": "recent completions kept in memory (default 20000)",
    "sqlite_synchronous": "SQLite synchronous pragma: OFF, NORMAL, FULL or "
    "EXTRA (default FULL)",
    "sqlite_busy_timeout": "how long a SQLite write waits for a lock held by "
    "another process before the call fails with UNAVAILABLE (default 30s)",
    "log_level": "DEBUG, INFO, WARNING or ERROR (default INFO)",
    "log_format": "text or json (default text)",
    "keepalive_time": "idle time before the server pings a connection (default 60s)",
    "keepalive_timeout": "how long a ping may go unanswered before the server "
    "closes the connection (default 20s)",
    "max_watch_streams": "open WatchCompletions streams (default 1000)",
    "max_worker_streams": "open WorkerService.Work streams (default 1000)",
    "max_queued_writes": "write operations waiting for the database before "
    "enqueues and cancels get UNAVAILABLE (default 10000)",
    "tls_cert_file": "PEM certificate chain: serve TLS on the gRPC port",
    "tls_key_file": "PEM private key of tls_cert_file",
    "tls_client_ca_file": "PEM CA bundle: require client certificates (mutual TLS)",
    "reflection": "serve gRPC server reflection: true or false (default true)",
    "tracing": "off, or otlp to export OpenTelemetry spans over OTLP/HTTP to "
    "OTEL_EXPORTER_OTLP_ENDPOINT (default off)",
}


def _add_serve(commands: argparse._SubParsersAction) -> None:
    serve = commands.add_parser(
        "serve",
        help="run the server",
        description="Run the Workpool server. Each flag may also be set by a "
        "WORKPOOL_<NAME> environment variable or a key of the --config TOML file; "
        "flags win over the environment, which wins over the file. Durations "
        "take a unit (us, ms, s, m, h, d); a bare number is seconds.",
    )
    serve.add_argument("--config", help="TOML file with settings and [[pools]]")
    for name, help_text in SERVE_FLAGS.items():
        serve.add_argument("--" + name.replace("_", "-"), dest=name, help=help_text)


def _add_output(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--output",
        choices=["json", "text"],
        default="json",
        help="json: one JSON object a line (default); text: a table for people",
    )


def _add_client_commands(commands: argparse._SubParsersAction) -> None:
    enqueue = commands.add_parser(
        "enqueue", help="enqueue one work item, or every item of a --file"
    )
    enqueue.add_argument("pool")
    enqueue.add_argument("function", nargs="?")
    enqueue.add_argument("args", nargs="?", type=_json_value, help="JSON args")
    enqueue.add_argument(
        "--file",
        help='JSON-lines file with one item a line: {"function": ..., "args": '
        "...} and optionally retry, max_attempts, run_after, idempotency_key, "
        "on_complete, context; sent in batches of 1000",
    )
    enqueue.add_argument(
        "--retry",
        choices=["default", "yes", "no"],
        default="default",
        help="pool default, the pool's retry policy, or one attempt",
    )
    enqueue.add_argument("--max-attempts", type=int, help="custom retry policy")
    enqueue.add_argument("--run-after", type=_duration, help="delay, such as 10s")
    enqueue.add_argument("--idempotency-key")
    enqueue.add_argument(
        "--concurrency-key", help="limit items of this key by the pool's max-per-key"
    )
    enqueue.add_argument("--priority", type=int, default=0, help="higher starts first")
    enqueue.add_argument(
        "--attempt-timeout", type=_duration, help="end an attempt past this, such as 5m"
    )
    enqueue.add_argument("--on-complete", help="follow-up function name")
    enqueue.add_argument("--context", type=_json_value, help="follow-up context JSON")

    status = commands.add_parser("status", help="show the status of work items")
    status.add_argument("work_ids", nargs="+")
    status.add_argument(
        "--attempts",
        action="store_true",
        help="also show each attempt: worker, start and end times, outcome, error "
        "(one Status call per id instead of one StatusBatch call)",
    )
    _add_output(status)

    explain = commands.add_parser(
        "explain", help="say why a work item is not running now"
    )
    explain.add_argument("work_id")
    _add_output(explain)

    cancel = commands.add_parser("cancel", help="cancel one work item")
    cancel.add_argument("work_id")

    cancel_all = commands.add_parser(
        "cancel-all", help="cancel every item of a pool enqueued before now"
    )
    cancel_all.add_argument("pool")

    watch = commands.add_parser("watch", help="stream completions")
    watch.add_argument("--pool", action="append", default=[], dest="pools")
    watch.add_argument("--work-id", action="append", default=[], dest="work_ids")
    watch.add_argument("--after", type=int, help="replay after this sequence")
    watch.add_argument(
        "--count", type=_positive, help="stop after this many completions"
    )
    watch.add_argument(
        "--work-ids-file",
        help="file with one work id a line: exit once every one has finished",
    )
    watch.add_argument(
        "--progress",
        action="store_true",
        help="with --work-ids-file, show 'finished N/M, failed F' on stderr",
    )
    _add_output(watch)

    pools = commands.add_parser("pools", help="list, show, create, update, delete")
    actions = pools.add_subparsers(dest="action", required=True)
    _add_output(actions.add_parser("list", help="list pools"))
    for name in ("get", "delete"):
        action = actions.add_parser(name, help=f"{name} a pool")
        action.add_argument("name")
        if name == "get":
            _add_output(action)
    for name in ("create", "update"):
        action = actions.add_parser(name, help=f"{name} a pool")
        action.add_argument("name")
        action.add_argument("--max-parallelism", type=int)
        action.add_argument(
            "--retry-by-default",
            choices=["yes", "no"],
            help="retry items that do not choose a retry policy",
        )
        action.add_argument("--status-ttl", type=_duration)
        action.add_argument("--keep-status-forever", action="store_true")
        action.add_argument(
            "--max-per-key", type=int, help="items of one concurrency key at once"
        )
        action.add_argument(
            "--priority-aging", type=_duration, help="wait that adds 1 to priority"
        )
        action.add_argument("--rate-limit", type=float, help="starts per second")
        action.add_argument(
            "--rate-burst", type=int, help="starts allowed at once (with --rate-limit)"
        )
        action.add_argument("--default-attempt-timeout", type=_duration)
        action.add_argument(
            "--parent", help="pool whose idle capacity this one borrows"
        )
        action.add_argument(
            "--breaker-failure-rate",
            type=float,
            help="failed fraction of attempts that opens the circuit breaker",
        )
        action.add_argument("--breaker-window", type=_duration)
        action.add_argument("--breaker-min-attempts", type=int)
        action.add_argument("--breaker-cool-down", type=_duration)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="workpool", description="Workpool: a gRPC work-pool service."
    )
    parser.add_argument(
        "--server",
        default=os.environ.get("WORKPOOL_SERVER", DEFAULT_SERVER),
        help="server address for client commands (WORKPOOL_SERVER; default "
        f"{DEFAULT_SERVER})",
    )
    parser.add_argument(
        "--token",
        default=os.environ.get("WORKPOOL_TOKEN"),
        help="bearer token for client commands (WORKPOOL_TOKEN)",
    )
    parser.add_argument(
        "--ca-file",
        default=os.environ.get("WORKPOOL_CA_FILE"),
        help="connect with TLS, trusting this CA's PEM file (WORKPOOL_CA_FILE)",
    )
    parser.add_argument(
        "--cert-file",
        default=os.environ.get("WORKPOOL_CERT_FILE"),
        help="client certificate for mutual TLS (WORKPOOL_CERT_FILE)",
    )
    parser.add_argument(
        "--key-file",
        default=os.environ.get("WORKPOOL_KEY_FILE"),
        help="client key for mutual TLS (WORKPOOL_KEY_FILE)",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    _add_serve(commands)
    _add_token_commands(commands)
    _add_client_commands(commands)
    return parser


def _add_token_commands(commands: argparse._SubParsersAction) -> None:
    token = commands.add_parser("token", help="make and hash bearer tokens")
    actions = token.add_subparsers(dest="action", required=True)
    create = actions.add_parser(
        "create", help="print a new token and its [[tokens]] entry"
    )
    create.add_argument("--name", required=True, help="name for logs and metrics")
    create.add_argument(
        "--role",
        action="append",
        required=True,
        choices=ROLES,
        dest="roles",
        help="role to grant; repeat for several",
    )
    actions.add_parser("hash", help="print the sha256 of a token read from stdin")


def _run_token(options: argparse.Namespace) -> int:
    if options.action == "hash":
        token = sys.stdin.readline().strip()
        if not token:
            print("workpool: token hash: no token on standard input", file=sys.stderr)
            return 2
        print(hash_token(token))
        return 0

    token = new_token()
    roles = ", ".join(f'"{role}"' for role in dict.fromkeys(options.roles))
    # Only the entry goes to stdout, so that `>> workpool.toml` appends it.
    print(f"token: {token}", file=sys.stderr)
    print(
        "Give the token to its user; add the entry below to the server's config.",
        file=sys.stderr,
    )
    print("[[tokens]]")
    print(f"name = {json.dumps(options.name)}")
    print(f'sha256 = "{hash_token(token)}"')
    print(f"roles = [{roles}]")
    return 0


_print = cli_output.print_json


def _serve(options: argparse.Namespace) -> int:
    from workpool_server.app import serve
    from workpool_server.logs import configure_logging

    flags = {name: getattr(options, name) for name in SERVE_FLAGS}
    try:
        config = load_config(options.config, flags)
    except ConfigError as error:
        print(f"workpool: invalid configuration: {error}", file=sys.stderr)
        return 2

    configure_logging(config.log_level, config.log_format)
    try:
        asyncio.run(serve(config))
    except KeyboardInterrupt:
        pass
    except TlsSetupError as error:
        print(f"workpool: invalid configuration: {error}", file=sys.stderr)
        return 2
    except WorkpoolError as error:
        # Raised while the [[pools]] of the config file are created.
        print(f"workpool: invalid configuration: pools: {error}", file=sys.stderr)
        return 2
    except OSError as error:
        print(f"workpool: cannot start: {error}", file=sys.stderr)
        return 1
    except SQLAlchemyError as error:
        print(
            f"workpool: cannot open the database {config.database_url!r}: "
            f"{error.__class__.__name__}: {error.args[0] if error.args else error}",
            file=sys.stderr,
        )
        return 1
    return 0


def _status(client, options: argparse.Namespace) -> int:
    import workpool

    if options.attempts:
        statuses = [
            _status_with_attempts(client, work_id) for work_id in options.work_ids
        ]
    else:
        statuses = client.status_batch(options.work_ids)

    if options.output == "text":
        print(cli_output.status_table(statuses))
        if options.attempts:
            print()
            print(cli_output.attempts_table(statuses))
    else:
        for status in statuses:
            _print(status)
    if any(s.state is workpool.WorkState.NOT_FOUND for s in statuses):
        return 1
    return 0


def _status_with_attempts(client, work_id: str):
    import workpool

    try:
        return client.status(work_id, include_attempts=True)
    except workpool.NotFoundError:
        # StatusBatch returns NOT_FOUND for such an id too, so one unknown id
        # does not hide the others.
        return workpool.WorkStatus(work_id=work_id, state=workpool.WorkState.NOT_FOUND)


def _run_client(options: argparse.Namespace) -> int:
    import workpool

    credentials = None
    if options.ca_file or options.cert_file or options.key_file:
        credentials = workpool.tls_credentials(
            ca_file=options.ca_file,
            cert_file=options.cert_file,
            key_file=options.key_file,
        )
    with workpool.Client(
        options.server, credentials=credentials, token=options.token or None
    ) as client:
        command = options.command
        if command == "enqueue":
            return _enqueue(client, options)
        if command == "status":
            return _status(client, options)
        elif command == "explain":
            explanation = client.explain(options.work_id)
            if options.output == "text":
                print(cli_output.explanation_table(explanation))
            else:
                _print(explanation)
        elif command == "cancel":
            _print({"outcome": client.cancel(options.work_id)})
        elif command == "cancel-all":
            _print(client.cancel_all(options.pool))
        elif command == "watch":
            return _watch(client, options)
        elif command == "pools":
            _run_pools(client, options)
    return 0


def _enqueue(client: Any, options: argparse.Namespace) -> int:
    import workpool

    if options.file is not None:
        if options.function is not None:
            print(
                "workpool: enqueue takes either FUNCTION [ARGS_JSON] or --file, "
                "not both",
                file=sys.stderr,
            )
            return 2
        items = read_items(options.file)
        enqueue_items(
            client, options.pool, items, lambda work_id: _print({"work_id": work_id})
        )
        return 0
    if options.function is None:
        print("workpool: enqueue needs FUNCTION or --file FILE", file=sys.stderr)
        return 2

    conflict = _enqueue_conflict(options)
    if conflict is not None:
        print(f"workpool: {conflict}", file=sys.stderr)
        return 2
    retry: Any = {"default": None, "yes": True, "no": False}[options.retry]
    if options.max_attempts is not None:
        retry = workpool.RetryPolicy(max_attempts=options.max_attempts)
    on_complete = None
    if options.on_complete:
        on_complete = workpool.OnComplete(options.on_complete, options.context)
    work_id = client.enqueue(
        options.pool,
        options.function,
        options.args,
        retry=retry,
        on_complete=on_complete,
        run_after=options.run_after,
        idempotency_key=options.idempotency_key,
        concurrency_key=options.concurrency_key,
        priority=options.priority,
        attempt_timeout=options.attempt_timeout,
    )
    _print({"work_id": work_id})
    return 0


def _enqueue_conflict(options: argparse.Namespace) -> str | None:
    """Return why the enqueue flags contradict each other, or None."""
    if options.context is not None and not options.on_complete:
        return "--context needs --on-complete FUNCTION, which receives it"
    if options.max_attempts is not None and options.retry == "no":
        return "--max-attempts contradicts --retry no; pass one of them"
    return None


def _watch(client: Any, options: argparse.Namespace) -> int:
    if options.work_ids_file is None and options.progress:
        print("workpool: --progress needs --work-ids-file", file=sys.stderr)
        return 2
    if options.work_ids_file is not None and (
        options.pools or options.after is not None or options.count is not None
    ):
        print(
            "workpool: --work-ids-file waits for its ids to finish and cannot be "
            "combined with --pool, --after or --count",
            file=sys.stderr,
        )
        return 2

    text = options.output == "text"
    if text:
        print(cli_output.watch_header())

    def show(completion: Any) -> None:
        if text:
            print(cli_output.watch_row(completion))
        else:
            _print(completion)
        sys.stdout.flush()

    if options.work_ids_file is not None:
        work_ids = list(
            dict.fromkeys(options.work_ids + read_work_ids(options.work_ids_file))
        )
        follow_work_ids(client, work_ids, show, options.progress)
        return 0

    completions = client.watch_completions(
        pools=options.pools,
        work_ids=options.work_ids,
        after_sequence=options.after,
    )
    for seen, completion in enumerate(completions, start=1):
        show(completion)
        if options.count is not None and seen >= options.count:
            break
    return 0


def _run_pools(client: Any, options: argparse.Namespace) -> None:
    action = options.action
    if action == "list":
        pools = client.list_pools()
        if options.output == "text":
            print(cli_output.pools_table(pools))
        else:
            for pool in pools:
                _print(pool)
        return
    if action == "get":
        pool = client.get_pool(options.name)
        if options.output == "text":
            print(cli_output.pools_table([pool]))
        else:
            _print(pool)
        return
    if action == "delete":
        client.delete_pool(options.name)
        _print({"deleted": options.name})
        return

    settings: dict[str, Any] = {}
    if options.max_parallelism is not None:
        settings["max_parallelism"] = options.max_parallelism
    if options.retry_by_default is not None:
        settings["retry_by_default"] = options.retry_by_default == "yes"
    if options.status_ttl is not None:
        settings["status_ttl"] = options.status_ttl
    if options.keep_status_forever:
        settings["keep_status_forever"] = True
    settings.update(_scheduling_settings(options))
    if action == "create":
        _print(client.create_pool(options.name, **settings))
    else:
        _print(client.update_pool(options.name, **settings))


def _scheduling_settings(options: argparse.Namespace) -> dict[str, Any]:
    import workpool

    settings: dict[str, Any] = {}
    for name in ("max_per_key", "priority_aging", "default_attempt_timeout", "parent"):
        if getattr(options, name) is not None:
            settings[name] = getattr(options, name)
    if options.rate_limit is not None:
        settings["rate_limit"] = workpool.RateLimit(
            per_second=options.rate_limit, burst=options.rate_burst or 1
        )
    elif options.rate_burst is not None:
        raise ValueError("--rate-burst needs --rate-limit")
    breaker = {
        "window": options.breaker_window,
        "min_attempts": options.breaker_min_attempts,
        "cool_down": options.breaker_cool_down,
    }
    given = {name: value for name, value in breaker.items() if value is not None}
    if options.breaker_failure_rate is not None:
        settings["circuit_breaker"] = workpool.CircuitBreaker(
            failure_rate=options.breaker_failure_rate, **given
        )
    elif given:
        raise ValueError("--breaker-* settings need --breaker-failure-rate")
    return settings


def main(argv: Sequence[str] | None = None) -> int:
    options = build_parser().parse_args(argv)
    if options.command == "serve":
        return _serve(options)
    if options.command == "token":
        return _run_token(options)

    import workpool

    try:
        return _run_client(options)
    except workpool.WorkpoolError as error:
        print(f"workpool: {error}", file=sys.stderr)
        return 1
    except InputFileError as error:
        print(f"workpool: {error}", file=sys.stderr)
        return 2
    except (TypeError, ValueError) as error:
        # The SDK checks arguments before it sends them.
        print(f"workpool: invalid argument: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
