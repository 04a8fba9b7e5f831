"""Optional py-spy profiles of the server during chosen scenarios.

``bench/run.py --profile NAME`` records the server of scenario NAME with
py-spy and writes the frames with the largest shares of the samples to
bench/results/profiles/NAME.txt. Without it, ``profiled`` does nothing, so
the figures of a normal run carry no profiler overhead.
"""

from __future__ import annotations

import shutil
import signal
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

PROFILE_DIR = Path(__file__).resolve().parent / "results" / "profiles"
SAMPLES_PER_SECOND = 200
TOP_FRAMES = 25

# Scenario names to profile; run.py fills it from --profile.
selected: set[str] = set()


def _py_spy() -> str:
    found = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
    if not Path(found).exists():
        raise FileNotFoundError(
            "py-spy not found; install the bench extra with `make bench-deps`"
        )
    return found


@contextmanager
def profiled(pid: int, name: str) -> Iterator[None]:
    """Record ``pid`` with py-spy during the body when ``name`` is selected."""
    if name not in selected:
        yield
        return
    PROFILE_DIR.mkdir(parents=True, exist_ok=True)
    raw = PROFILE_DIR / f"{name}.raw"
    process = subprocess.Popen(
        [
            _py_spy(), "record", "--pid", str(pid), "--format", "raw",
            "--rate", str(SAMPLES_PER_SECOND), "--output", str(raw), "--nonblocking",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        yield
    finally:
        # py-spy writes its output when it gets SIGINT.
        process.send_signal(signal.SIGINT)
        process.wait(timeout=60)
    summary = summarize(raw)
    (PROFILE_DIR / f"{name}.txt").write_text(summary)
    print(summary, flush=True)


def summarize(raw: Path) -> str:
    """Return the frames with the largest self and total shares of the samples.

    Each line of py-spy's raw format is a stack, outermost frame first,
    separated by semicolons, then a space and the sample count.
    """
    own: Counter[str] = Counter()
    total: Counter[str] = Counter()
    groups: Counter[str] = Counter()
    samples = 0
    for line in raw.read_text().splitlines():
        stack, _, count_text = line.rpartition(" ")
        # Some frame names in the server's recordings contain a line break,
        # which splits a stack over two lines. Such a stack is left out.
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        frames = stack.split(";")
        samples += count
        own[frames[-1]] += count
        for frame in set(frames):
            total[frame] += count
        groups[_group(frames[-1])] += count
        if any(frame.startswith("Writer._run ") for frame in frames):
            groups["writer thread (on the stack)"] += count
    if not samples:
        return f"{raw.name}: no samples\n"
    # py-spy leaves out threads it finds idle, so the shares are of the
    # samples of busy threads.
    lines = [f"{raw.stem}: {samples} samples at {SAMPLES_PER_SECOND} Hz", "", "self:"]
    for frame, count in own.most_common(TOP_FRAMES):
        lines.append(f"  {100 * count / samples:5.1f} %  {frame}")
    lines += ["", "total (frame on the stack):"]
    for frame, count in total.most_common(TOP_FRAMES):
        lines.append(f"  {100 * count / samples:5.1f} %  {frame}")
    lines += ["", "innermost frame by where its code lives:"]
    for group, count in sorted(groups.items()):
        lines.append(f"  {100 * count / samples:5.1f} %  {group}")
    return "\n".join(lines) + "\n"


def _group(frame: str) -> str:
    """Return the kind of code a frame such as ``f (path/file.py:12)`` runs."""
    if "do_execute" in frame or "do_commit" in frame or "psycopg" in frame:
        return "database driver calls"
    if "sqlalchemy/" in frame:
        return "SQLAlchemy"
    if "(server/" in frame:
        return "Workpool server"
    if "asyncio/" in frame or "selectors.py" in frame:
        return "asyncio, with its wait in select"
    return "other"
