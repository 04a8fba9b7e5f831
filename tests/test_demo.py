"""The demo runs end to end: server, SMTP sink, web pages, workers."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def test_demo_finishes_every_item():
    completed = subprocess.run(
        [sys.executable, "-m", "demo"],
        cwd=REPO,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=120,
    )

    assert completed.returncode == 0, completed.stdout[-3000:] + completed.stderr
    assert "Every work item ended as expected." in completed.stdout
