"""CPU time of groups of processes, read from /proc (Linux only).

A group's time is the sum over each root process and its live descendants of
utime + stime + cutime + cstime. The c-fields hold the time of children that
a process has already waited for, so a PostgreSQL backend that exits during a
measurement is still counted, in its postmaster's cutime, and no process is
counted twice.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

_PROC = Path("/proc")
_TICKS_PER_SECOND = os.sysconf("SC_CLK_TCK")


@dataclass(frozen=True)
class _ProcessStat:
    parent: int
    own_ticks: int
    waited_children_ticks: int


@dataclass(frozen=True)
class CpuSample:
    """CPU seconds per group and for the whole machine at one instant."""

    groups: dict[str, float]
    machine_busy: float


@dataclass(frozen=True)
class Group:
    """Root pids, with their descendants or, when ``descendants`` is false,
    only their own time (threads included)."""

    roots: tuple[int, ...]
    descendants: bool = True


def _read_stat(pid: int) -> _ProcessStat | None:
    try:
        text = (_PROC / str(pid) / "stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return None
    # The command name in brackets may contain spaces, so the fields are
    # counted from its closing bracket: ppid is the 2nd field after it, and
    # utime, stime, cutime and cstime are the 12th to 15th.
    fields = [int(value) for value in text[text.rindex(")") + 2 :].split()[1:15]]
    return _ProcessStat(
        parent=fields[0],
        own_ticks=fields[10] + fields[11],
        waited_children_ticks=fields[12] + fields[13],
    )


def _all_processes() -> dict[int, _ProcessStat]:
    stats: dict[int, _ProcessStat] = {}
    for entry in _PROC.iterdir():
        if entry.name.isdigit():
            stat = _read_stat(int(entry.name))
            if stat is not None:
                stats[int(entry.name)] = stat
    return stats


def _tree_ticks(root: int, stats: Mapping[int, _ProcessStat]) -> int:
    children: dict[int, list[int]] = {}
    for pid, stat in stats.items():
        children.setdefault(stat.parent, []).append(pid)
    total = 0
    pending = [root]
    seen: set[int] = set()
    while pending:
        pid = pending.pop()
        if pid in seen or pid not in stats:
            continue
        seen.add(pid)
        total += stats[pid].own_ticks + stats[pid].waited_children_ticks
        pending.extend(children.get(pid, ()))
    return total


def _machine_busy_seconds() -> float:
    """Return the CPU time of all cores spent outside idle and iowait."""
    with open(_PROC / "stat") as stat:
        fields = [int(value) for value in stat.readline().split()[1:]]
    # The fields are user, nice, system, idle, iowait, irq, softirq and steal.
    # The guest fields after them are already counted in user and nice.
    busy = sum(fields[:8]) - fields[3] - fields[4]
    return busy / _TICKS_PER_SECOND


def sample(groups: Mapping[str, Group]) -> CpuSample:
    """Read the CPU seconds used so far by each group and by the machine."""
    stats = _all_processes()
    seconds: dict[str, float] = {}
    for name, group in groups.items():
        ticks = 0
        for root in group.roots:
            if group.descendants:
                ticks += _tree_ticks(root, stats)
            elif root in stats:
                ticks += stats[root].own_ticks
        seconds[name] = ticks / _TICKS_PER_SECOND
    return CpuSample(groups=seconds, machine_busy=_machine_busy_seconds())


def shares(
    before: CpuSample, after: CpuSample, elapsed_seconds: float
) -> dict[str, float]:
    """Return each group's percentage of the machine's CPU time in between.

    100 % is every core busy for ``elapsed_seconds``. ``other`` is the busy
    time of processes outside the groups (and the kernel's own work), and
    ``idle`` the rest. Clock ticks are coarse (10 ms at 100 Hz), so the
    parts may miss 100 % by a little.
    """
    capacity = elapsed_seconds * (os.cpu_count() or 1)
    result = {
        name: 100 * (after.groups[name] - before.groups[name]) / capacity
        for name in after.groups
    }
    busy = 100 * (after.machine_busy - before.machine_busy) / capacity
    result["other"] = max(0.0, busy - sum(result.values()))
    result["idle"] = max(0.0, 100 - busy)
    return result
