"""The demo runs end to end: server, SMTP sink, web pages, workers. Run once
with --once, and staying up with a trickle of work until SIGINT."""

from __future__ import annotations

import json
import queue
import re
import shlex
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
# The checks before the prompt took about 15 s in a test run on 2 cores; the
# limit leaves room for a machine busy with other work.
STARTUP_SECONDS = 120


def test_demo_once_finishes_every_item():
    completed = subprocess.run(
        [sys.executable, "-m", "demo", "--once"],
        cwd=REPO,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=120,
    )

    assert completed.returncode == 0, completed.stdout[-3000:] + completed.stderr
    assert "Every work item ended as expected." in completed.stdout
    assert "Press Ctrl-C" not in completed.stdout


def _read_lines(stream, lines: queue.Queue) -> None:
    for line in stream:
        lines.put(line)
    lines.put(None)


def _read_until(lines: queue.Queue, marker: str, seconds: float) -> list[str]:
    """Return the lines read up to and including the one containing `marker`."""
    deadline = time.monotonic() + seconds
    seen: list[str] = []
    while time.monotonic() < deadline:
        try:
            line = lines.get(timeout=1)
        except queue.Empty:
            continue
        if line is None:
            break
        seen.append(line)
        if marker in line:
            return seen
    raise AssertionError(f"{marker!r} not printed:\n{''.join(seen)[-3000:]}")


def test_demo_stays_up_until_sigint():
    demo = subprocess.Popen(
        [sys.executable, "-m", "demo"],
        cwd=REPO,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    lines: queue.Queue = queue.Queue()
    threading.Thread(target=_read_lines, args=(demo.stdout, lines), daemon=True).start()
    try:
        printed = "".join(_read_until(lines, "Press Ctrl-C", STARTUP_SECONDS))
        dashboard = re.search(r"Dashboard: (\S+)", printed).group(1)
        explain_lines = [line for line in printed.splitlines() if " explain " in line]
        paused_command = shlex.split(explain_lines[0])
        paused_id = paused_command[-1]

        explained = subprocess.run(
            paused_command, cwd=REPO, capture_output=True, text=True, timeout=60
        )
        with urllib.request.urlopen(f"{dashboard}api/work/{paused_id}") as response:
            work = json.loads(response.read())

        demo.send_signal(signal.SIGINT)
        demo.wait(timeout=60)
        rest = []
        while (line := lines.get(timeout=10)) is not None:
            rest.append(line)
    finally:
        if demo.poll() is None:
            demo.kill()
            demo.wait()

    assert explained.returncode == 0, explained.stderr
    assert json.loads(explained.stdout)["reason"] == "pool_paused"
    assert work["explain"]["reason"] == "pool_paused"
    assert "Metrics:   http://127.0.0.1:" in printed
    assert " status " in printed
    assert "--attempts" in printed
    assert demo.returncode == 0, "".join(rest)
    assert "Stopped the demo and every process it started." in "".join(rest)
