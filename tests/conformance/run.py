"""Run the conformance suite: one server, every built runner, cross-language flows.

Run it with the project's venv from anywhere:

    .venv/bin/python tests/conformance/run.py [--require python,go] [--only NAME]

It prints each runner's PASS and FAIL lines, then one summary line per
language and `cross-language: N passed, M failed`. It exits non-zero when any
of them reports a failure, when the server logged an error, or when a
language named in --require has no runner built.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import re
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from sdk_examples import run_examples  # a sibling module: run.py runs as a script

from workpool import Client, ResultKind, WorkpoolError, WorkState, tls_credentials

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from tests.certs import Authority  # noqa: E402  (needs the repository on sys.path)
from workpool_server.security import hash_token, new_token  # noqa: E402

SCENARIOS = REPO / "tests" / "conformance" / "scenarios"


@dataclass(frozen=True)
class Runner:
    """How to find out that a language's runner is built, and how to start it.

    Paths are relative to the repository root, which is the working folder of
    every runner.
    """

    built_when_exists: str | None
    command: list[str]


# One entry per language. Fix a command here when a runner moves.
RUNNERS: dict[str, Runner] = {
    "python": Runner(
        built_when_exists=None,
        command=[sys.executable, "tests/conformance/python_runner.py"],
    ),
    "typescript": Runner(
        built_when_exists="sdk/typescript/dist/conformance/runner.js",
        command=["node", "sdk/typescript/dist/conformance/runner.js"],
    ),
    "go": Runner(
        built_when_exists="sdk/go/.tools/bin/conformance",
        command=["sdk/go/.tools/bin/conformance"],
    ),
    # sdk/java/ci.sh writes this script, which runs the runner compiled from
    # the conformance source root with the Maven class path.
    "java": Runner(
        built_when_exists="sdk/java/target/conformance-runner",
        command=["sdk/java/target/conformance-runner"],
    ),
}


@dataclass(frozen=True)
class Flow:
    """A cross-language flow: who enqueues, who runs the items, who watches."""

    name: str
    enqueue: str
    worker: str
    watchers: tuple[str, ...]


# Together the flows give each language every role at least once when all
# four runners are built. A language without a runner is played by Python.
FLOWS = (
    Flow("a", enqueue="go", worker="typescript", watchers=("java", "python")),
    Flow("b", enqueue="python", worker="java", watchers=("go", "typescript")),
)
FLOW_ITEMS = 20
FLOW_POOL_PARALLELISM = 4
FLOW_TIMEOUT_SECONDS = 60.0

RUNNER_TIMEOUT_SECONDS = 900.0
SERVER_START_TIMEOUT_SECONDS = 30.0
SUMMARY_LINE = re.compile(r"^(\w+): (\d+) passed, (\d+) failed$")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--require",
        default="",
        help="comma-separated languages that must have a runner built, such "
        "as python,typescript,go,java",
    )
    parser.add_argument(
        "--languages",
        default=",".join(RUNNERS),
        help="comma-separated languages to run, when built (default: all); the "
        "cross-language flows use only these, with Python for the others",
    )
    parser.add_argument("--only", help="run only the scenario of this name")
    parser.add_argument(
        "--examples",
        action="store_true",
        help="also run each built SDK's README example against the server",
    )
    parser.add_argument(
        "--keep-logs",
        action="store_true",
        help="keep the temporary folder with the server's and runners' logs",
    )
    args = parser.parse_args(argv)

    args.require = _language_list(parser, "--require", args.require)
    args.languages = _language_list(parser, "--languages", args.languages)
    if "python" not in args.languages:
        parser.error("--languages must include python, which stands in for the others")
    return args


def _language_list(parser: argparse.ArgumentParser, option: str, raw: str) -> list[str]:
    names = [name.strip() for name in raw.split(",") if name.strip()]
    unknown = [name for name in names if name not in RUNNERS]
    if unknown:
        parser.error(f"{option}: unknown languages {unknown}; known: {list(RUNNERS)}")
    return names


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    built = [
        language
        for language in args.languages
        if RUNNERS[language].built_when_exists is None
        or (REPO / RUNNERS[language].built_when_exists).exists()
    ]
    missing = [language for language in args.require if language not in built]
    for language in RUNNERS:
        if language not in args.languages:
            print(f"{language}: not in --languages, skipped", flush=True)
        elif language not in built:
            print(
                f"{language}: runner not built ({RUNNERS[language].built_when_exists} "
                "is missing), skipped",
                flush=True,
            )

    workdir = Path(tempfile.mkdtemp(prefix="workpool-conformance-"))
    try:
        # Scenarios run over TLS with a bearer token, so that every SDK's
        # TLS and token settings are exercised. The flows and the README
        # examples use a plaintext server, as a first try on loopback does.
        with Server(workdir / "secure", secure=True) as secure:
            summaries = [
                run_runner(language, secure, args.only, workdir) for language in built
            ]
        with Server(workdir / "plain") as server:
            cross_passed, cross_failed = run_flows(server.target, built, workdir)
            examples = (
                run_examples(server.target, built, workdir) if args.examples else None
            )
        server_errors = secure.error_lines() + server.error_lines()
    finally:
        if args.keep_logs:
            print(f"logs kept in {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)

    print("\nSummary:")
    failed = bool(missing) or cross_failed > 0
    for line, ok in summaries:
        print(line)
        failed = failed or not ok
    if examples is not None:
        print(f"examples: {examples[0]} passed, {examples[1]} failed")
        failed = failed or examples[1] > 0
    print(f"cross-language: {cross_passed} passed, {cross_failed} failed")
    if server_errors:
        failed = True
        print(f"server log: {len(server_errors)} error lines, such as:")
        for line in server_errors[:5]:
            print(f"  {line}")
    if missing:
        print(f"required but not built: {', '.join(missing)}")
    return 1 if failed else 0


# Server.


class Server:
    """A workpool server on a free loopback port with a fresh SQLite file.

    A secure server serves TLS with a new CA's certificate and accepts one
    new token with every role. `environment` contains the variables that
    clients read to connect.
    """

    def __init__(self, workdir: Path, secure: bool = False) -> None:
        workdir.mkdir(parents=True, exist_ok=True)
        self.workdir = workdir
        self.port = _free_port()
        self.target = f"127.0.0.1:{self.port}"
        self.log_path = workdir / "server.log"
        self.process: subprocess.Popen[bytes] | None = None
        self.secure = secure
        self.environment: dict[str, str] = {}

    def _secure_flags(self) -> list[str]:
        authority = Authority(self.workdir, "conformance")
        issued = authority.issue_server()
        token = new_token()
        config = self.workdir / "workpool.toml"
        config.write_text(
            "[[tokens]]\n"
            'name = "conformance"\n'
            f'sha256 = "{hash_token(token)}"\n'
            'roles = ["client", "worker", "admin"]\n'
        )
        self.environment = {
            "WORKPOOL_CA_FILE": str(authority.cert_file),
            "WORKPOOL_TOKEN": token,
        }
        return [
            "--config",
            str(config),
            "--tls-cert-file",
            str(issued.cert_file),
            "--tls-key-file",
            str(issued.key_file),
        ]

    def client(self, timeout: float) -> Client:
        """A client that connects the way the server expects."""
        if not self.secure:
            return Client(self.target, timeout=timeout)
        return Client(
            self.target,
            credentials=tls_credentials(ca_file=self.environment["WORKPOOL_CA_FILE"]),
            token=self.environment["WORKPOOL_TOKEN"],
            timeout=timeout,
        )

    def __enter__(self) -> Server:
        command = [
            str(REPO / ".venv" / "bin" / "workpool"),
            "serve",
            "--database-url",
            f"sqlite:///{self.workdir / 'workpool.db'}",
            "--listen",
            self.target,
            "--http-listen",
            "",
            "--lease-duration",
            "2s",
            "--heartbeat-interval",
            "500ms",
        ]
        if self.secure:
            command += self._secure_flags()
        with self.log_path.open("wb") as log:
            self.process = subprocess.Popen(
                command, cwd=REPO, stdout=log, stderr=subprocess.STDOUT
            )
        try:
            self._wait_ready()
        except BaseException:
            self.__exit__(None, None, None)
            raise
        kind = "TLS and a token" if self.secure else "plaintext"
        print(
            f"server: listening on {self.target} ({kind}), log {self.log_path}",
            flush=True,
        )
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()

    def _wait_ready(self) -> None:
        assert self.process is not None
        deadline = time.monotonic() + SERVER_START_TIMEOUT_SECONDS
        with self.client(timeout=1.0) as client:
            while True:
                if self.process.poll() is not None:
                    raise RuntimeError(
                        f"the server exited with code {self.process.returncode} "
                        f"while starting:\n{_tail(self.log_path)}"
                    )
                try:
                    client.list_pools(page_size=1)
                    return
                except WorkpoolError:
                    if time.monotonic() > deadline:
                        raise RuntimeError(
                            f"the server did not answer on {self.target} within "
                            f"{SERVER_START_TIMEOUT_SECONDS} s:\n{_tail(self.log_path)}"
                        ) from None
                    time.sleep(0.1)

    def error_lines(self) -> list[str]:
        """Return the log lines at level ERROR or above, and traceback heads."""
        lines = self.log_path.read_text(encoding="utf-8", errors="replace")
        return [
            line
            for line in lines.splitlines()
            if " ERROR " in line or " CRITICAL " in line or line.startswith("Traceback")
        ]


def _free_port() -> int:
    # The port is free when this returns. Another process could take it
    # before the server binds it, and the start-up check then reports that.
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _tail(path: Path, lines: int = 30) -> str:
    if not path.exists():
        return "(no output)"
    text = path.read_text(encoding="utf-8", errors="replace").splitlines()
    return "\n".join(text[-lines:])


# Scenario runners.


def run_runner(
    language: str, server: Server, only: str | None, workdir: Path
) -> tuple[str, bool]:
    """Run one language's scenarios and return (summary line, passed).

    The runner finds the server's CA file and token in the environment
    variables WORKPOOL_CA_FILE and WORKPOOL_TOKEN.
    """
    command = RUNNERS[language].command + [
        "--server",
        server.target,
        "--scenarios",
        str(SCENARIOS),
    ]
    if only is not None:
        command += ["--only", only]

    print(f"\n== {language} runner: {' '.join(command)}", flush=True)
    stderr_path = workdir / f"{language}-runner.stderr"
    summary: str | None = None
    with stderr_path.open("wb") as stderr:
        process = subprocess.Popen(
            command,
            cwd=REPO,
            stdout=subprocess.PIPE,
            stderr=stderr,
            text=True,
            env={**os.environ, **server.environment},
        )
        assert process.stdout is not None
        # A runner that hangs prints nothing, so the timeout cannot be checked
        # between lines.
        killer = threading.Timer(RUNNER_TIMEOUT_SECONDS, process.kill)
        killer.start()
        try:
            for line in process.stdout:
                line = line.rstrip("\n")
                print(line, flush=True)
                match = SUMMARY_LINE.match(line)
                if match and match.group(1) == language:
                    summary = line
            code = process.wait()
        finally:
            killer.cancel()

    if summary is None or code != 0:
        print(f"-- {language} runner standard error (last lines):")
        print(_tail(stderr_path))
    if summary is None:
        return f"{language}: no summary line (runner exit code {code})", False

    match = SUMMARY_LINE.match(summary)
    assert match is not None
    return summary, int(match.group(3)) == 0 and code == 0


# Cross-language flows.


def run_flows(target: str, built: list[str], workdir: Path) -> tuple[int, int]:
    """Run every flow and return how many passed and how many failed."""
    passed = failed = 0
    for flow in FLOWS:
        problems = run_flow(flow, target, built, workdir)
        if problems:
            failed += 1
            print(f"FAIL cross-language flow {flow.name}:", flush=True)
            for problem in problems:
                print(f"  {problem}", flush=True)
        else:
            passed += 1
            print(f"PASS cross-language flow {flow.name}", flush=True)
    return passed, failed


def _player(language: str, built: list[str]) -> str:
    return language if language in built else "python"


def _describe_role(role: str, language: str, built: list[str]) -> str:
    player = _player(language, built)
    if player == language:
        return f"{role}={player}"
    return f"{role}={player} (standing in for {language})"


def run_flow(flow: Flow, target: str, built: list[str], workdir: Path) -> list[str]:
    """Run one flow and return what went wrong, empty when it passed."""
    roles = [_describe_role("enqueue", flow.enqueue, built)]
    roles.append(_describe_role("worker", flow.worker, built))
    roles += [_describe_role("watch", language, built) for language in flow.watchers]
    print(f"\n== cross-language flow {flow.name}: {', '.join(roles)}", flush=True)

    pool = f"cross-language-{flow.name}-{secrets.token_hex(4)}"
    with Client(target) as client:
        client.create_pool(pool, max_parallelism=FLOW_POOL_PARALLELISM)

    def start(role: str, language: str, *extra: str) -> RoleProcess:
        player = _player(language, built)
        return RoleProcess.start(
            f"{role} ({player})",
            RUNNERS[player].command
            + ["--server", target, "--role", role, "--pool", pool]
            + ["--count", str(FLOW_ITEMS), *extra],
            workdir / f"flow-{flow.name}-{role}-{player}",
        )

    # The watchers start after sequence 0 and the pool is new, so they see
    # every completion of the pool whenever they connect.
    watchers = [start("watch", language, "--after", "0") for language in flow.watchers]
    worker = start("worker", flow.worker)
    enqueuer = start("enqueue", flow.enqueue)

    deadline = time.monotonic() + FLOW_TIMEOUT_SECONDS
    problems: list[str] = []
    for process in [enqueuer, worker, *watchers]:
        problems += process.finish(deadline)
    if problems:
        return problems

    work_ids, parse_problems = _enqueued_ids(enqueuer)
    problems += parse_problems
    for watcher in watchers:
        problems += _check_watcher(watcher, work_ids)
    problems += _check_statuses(target, work_ids)
    return problems


@dataclass
class RoleProcess:
    """A runner started in one role, with its output in files."""

    label: str
    process: subprocess.Popen[bytes]
    stdout_path: Path
    stderr_path: Path

    @classmethod
    def start(cls, label: str, command: list[str], prefix: Path) -> RoleProcess:
        stdout_path = prefix.with_suffix(".stdout")
        stderr_path = prefix.with_suffix(".stderr")
        with stdout_path.open("wb") as stdout, stderr_path.open("wb") as stderr:
            process = subprocess.Popen(command, cwd=REPO, stdout=stdout, stderr=stderr)
        return cls(label, process, stdout_path, stderr_path)

    def finish(self, deadline: float) -> list[str]:
        """Wait for the process until the deadline and return its problems."""
        try:
            code = self.process.wait(timeout=max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
            return [
                f"{self.label} did not finish within {FLOW_TIMEOUT_SECONDS} s; "
                f"standard error:\n{_tail(self.stderr_path, 10)}"
            ]
        if code != 0:
            return [
                f"{self.label} exited with code {code}; standard error:\n"
                f"{_tail(self.stderr_path, 10)}"
            ]
        return []

    def json_lines(self) -> tuple[list[dict], list[str]]:
        """Return the JSON objects printed, and a problem per line that is not one."""
        objects: list[dict] = []
        problems: list[str] = []
        text = self.stdout_path.read_text(encoding="utf-8", errors="replace")
        for line in text.splitlines():
            if not line.strip():
                continue
            try:
                value = json.loads(line)
            except json.JSONDecodeError:
                problems.append(
                    f"{self.label} printed a line that is not JSON: {line!r}"
                )
                continue
            if not isinstance(value, dict):
                problems.append(f"{self.label} printed {line!r}, not a JSON object")
                continue
            objects.append(value)
        return objects, problems


def _enqueued_ids(enqueuer: RoleProcess) -> tuple[list[str], list[str]]:
    objects, problems = enqueuer.json_lines()
    work_ids = [str(value.get("work_id")) for value in objects]
    if len(work_ids) != FLOW_ITEMS or len(set(work_ids)) != FLOW_ITEMS:
        problems.append(
            f"{enqueuer.label} printed {len(work_ids)} ids "
            f"({len(set(work_ids))} distinct), expected {FLOW_ITEMS}"
        )
    return work_ids, problems


def _check_watcher(watcher: RoleProcess, work_ids: list[str]) -> list[str]:
    objects, problems = watcher.json_lines()
    index_of = {work_id: index for index, work_id in enumerate(work_ids)}
    seen = [value.get("work_id") for value in objects]
    if sorted(map(str, seen)) != sorted(work_ids):
        problems.append(
            f"{watcher.label} saw {len(seen)} completions ({len(set(seen))} "
            f"distinct), expected each of the {len(work_ids)} enqueued items once"
        )

    sequences = [value.get("sequence") for value in objects]
    numeric = all(
        isinstance(s, int | float) and not isinstance(s, bool) for s in sequences
    )
    if not numeric or any(
        later <= earlier for earlier, later in itertools.pairwise(sequences)
    ):
        problems.append(f"{watcher.label} sequences are not increasing: {sequences}")

    checks: list[tuple[str, Callable[[dict], bool]]] = [
        ("result is not success", lambda value: value.get("result") != "success"),
        (
            "return value is not the item's args",
            lambda value: (
                value.get("return_value")
                != {"index": index_of.get(value.get("work_id"), -1)}
            ),
        ),
    ]
    for reason, is_wrong in checks:
        wrong = [value for value in objects if is_wrong(value)]
        if wrong:
            problems.append(
                f"{watcher.label}: {reason} in {len(wrong)} lines: {wrong[0]}"
            )
    return problems


def _check_statuses(target: str, work_ids: list[str]) -> list[str]:
    with Client(target) as client:
        statuses = client.status_batch(work_ids)
    wrong = [
        f"{status.work_id} is {status.state.value}"
        for status in statuses
        if status.state is not WorkState.FINISHED
        or status.result is None
        or status.result.kind is not ResultKind.SUCCESS
    ]
    if wrong:
        return [f"items not finished with success: {', '.join(wrong[:5])}"]
    return []


if __name__ == "__main__":
    os.chdir(REPO)
    sys.exit(main())
