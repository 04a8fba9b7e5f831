"""The Python part of the conformance suite, run as one test of `make test`."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

RUN_PY = Path(__file__).parent / "conformance" / "run.py"


# The suite starts its own server and runner processes; on 2 cores it takes
# about 20 s.
@pytest.mark.timeout(600)
def test_conformance_python_passes() -> None:
    # --languages python keeps the result independent of whether the other
    # SDKs' runners happen to be built on this machine.
    completed = subprocess.run(
        [sys.executable, str(RUN_PY), "--require", "python", "--languages", "python"],
        capture_output=True,
        text=True,
        timeout=540,
        check=False,
    )
    output = completed.stdout + completed.stderr

    python_line = re.search(r"^python: (\d+) passed, (\d+) failed$", output, re.M)
    assert python_line is not None, output
    assert int(python_line.group(1)) > 0, output
    assert python_line.group(2) == "0", output
    assert "cross-language: 2 passed, 0 failed" in output, output
    assert completed.returncode == 0, output
