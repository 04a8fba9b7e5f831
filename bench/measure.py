"""Helpers shared by the measurements: waiting, windows and percentiles."""

from __future__ import annotations

import socket
import statistics
import subprocess
import time
from collections.abc import Callable

from demo.services import LOOPBACK

# Time a drain gets to show its first completion before the measurement
# fails: workers must pick up a backlog within it.
_FIRST_COMPLETION_TIMEOUT_SECONDS = 60.0
_POLL_SECONDS = 1.0


def wait_for_port(
    port: int, process: subprocess.Popen[bytes] | None, timeout: float = 60.0
) -> None:
    """Wait until something accepts TCP connections on 127.0.0.1:``port``."""
    deadline = time.monotonic() + timeout
    while True:
        if process is not None and process.poll() is not None:
            raise RuntimeError(
                f"the process for port {port} exited with status {process.returncode}"
            )
        try:
            with socket.create_connection((LOOPBACK, port), timeout=1):
                return
        except OSError:
            if time.monotonic() > deadline:
                raise TimeoutError(
                    f"nothing listened on {LOOPBACK}:{port} within {timeout:.0f} s"
                ) from None
            time.sleep(0.1)


def percentile(values: list[float], fraction: float) -> float:
    """Return the value below which ``fraction`` of ``values`` lie (inclusive)."""
    if not values:
        raise ValueError("percentile of an empty list")
    if len(values) == 1:
        return values[0]
    cuts = statistics.quantiles(values, n=1_000, method="inclusive")
    index = min(len(cuts) - 1, max(0, round(fraction * 1_000) - 1))
    return cuts[index]


def drain_rates(
    completed: Callable[[], int],
    total: int,
    windows: int,
    window_seconds: float,
    warmup_seconds: float = 0.5,
    on_window: Callable[[], None] | None = None,
) -> list[float]:
    """Return completions per second in consecutive windows of a drain.

    ``completed`` returns how many items of the backlog have finished so
    far. The windows start ``warmup_seconds`` after the first completion, so
    the ramp-up of the workers is left out. The measurement ends early when
    the backlog of ``total`` items is empty, and the last, shorter window
    then counts only if it lasted at least half a window. A backlog that
    empties before one window ends gives one rate, from the first
    completion to the last. ``on_window``, when given, is called when the
    first window starts and after each window that counts.
    """
    deadline = time.monotonic() + _FIRST_COMPLETION_TIMEOUT_SECONDS
    while completed() == 0:
        if time.monotonic() > deadline:
            raise TimeoutError(
                f"no item of the backlog finished within "
                f"{_FIRST_COMPLETION_TIMEOUT_SECONDS:.0f} s"
            )
        time.sleep(0.05)
    first_seen = time.monotonic()
    time.sleep(warmup_seconds)

    rates: list[float] = []
    count = completed()
    started = time.monotonic()
    if on_window is not None:
        on_window()
    for _ in range(windows):
        window_end = started + window_seconds
        while time.monotonic() < window_end:
            # Reading the count costs the server a metrics scrape, so it
            # is read about once a second.
            time.sleep(min(_POLL_SECONDS, max(0.0, window_end - time.monotonic())))
            if completed() >= total:
                break
        now = time.monotonic()
        new_count = completed()
        elapsed = now - started
        if new_count >= total and elapsed < window_seconds / 2:
            break
        rates.append((new_count - count) / elapsed)
        if on_window is not None:
            on_window()
        count, started = new_count, now
        if count >= total:
            break
    if not rates:
        rates.append(total / (time.monotonic() - first_seen))
    return rates


def repeated_drains(drain: Callable[[int], list[float]], windows: int) -> list[float]:
    """Run ``drain`` rounds until they gave ``windows`` rates, or ``windows``
    rounds ran.

    ``drain`` loads a new backlog, drains it and returns the rates of at most
    the number of windows it is given. A peer that empties its backlog before
    all windows end thus still gets as many repetitions as the others.
    """
    rates: list[float] = []
    for _ in range(windows):
        rates += drain(windows - len(rates))
        if len(rates) >= windows:
            break
    return rates
