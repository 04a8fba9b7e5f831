"""Run each SDK README's example against a server, as a user would.

Every example takes the server address as its first argument, except the
Python one, whose README block sets TARGET; that block is run with TARGET
pointed at the server.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
EXAMPLE_SECONDS = 120
_PYTHON_BLOCK = re.compile(r"```python\n(.*?)```", re.DOTALL)


def _python_example(target: str, workdir: Path) -> list[str]:
    readme = (REPO / "sdk/python/README.md").read_text()
    blocks = [block for block in _PYTHON_BLOCK.findall(readme) if "TARGET = " in block]
    if not blocks:
        raise RuntimeError("sdk/python/README.md has no example that sets TARGET")
    source = re.sub(r'^TARGET = ".*"$', f'TARGET = "{target}"', blocks[0], flags=re.M)
    path = workdir / "python_example.py"
    path.write_text(source)
    return [sys.executable, str(path)]


def _java_example(target: str, workdir: Path) -> list[str]:
    java = REPO / "sdk/java/target"
    classpath = ":".join(
        [
            str(java / "classes"),
            str(java / "test-classes"),
            (java / "conformance.classpath").read_text().strip(),
        ]
    )
    return ["java", "-cp", classpath, "dev.workpool.examples.Example", target]


TYPESCRIPT_EXAMPLE = "sdk/typescript/dist/examples/quickstart.js"
GO_EXAMPLE = "./examples/quickstart"

# Language: (file that exists once the SDK is built, command builder).
EXAMPLES = {
    "python": (None, _python_example),
    "typescript": (
        "sdk/typescript/dist/examples/quickstart.js",
        lambda target, _: [
            "node",
            "sdk/typescript/dist/examples/quickstart.js",
            target,
        ],
    ),
    "go": (
        "sdk/go/.tools/bin/conformance",
        lambda target, _: [
            "go",
            "-C",
            "sdk/go",
            "run",
            "./examples/quickstart",
            target,
        ],
    ),
    "java": ("sdk/java/target/conformance.classpath", _java_example),
}


def run_examples(target: str, languages: list[str], workdir: Path) -> tuple[int, int]:
    """Run the README example of each built language; return (passed, failed)."""
    passed = failed = 0
    for language in languages:
        built_when, command_for = EXAMPLES[language]
        if built_when is not None and not (REPO / built_when).exists():
            continue
        command = command_for(target, workdir)
        print(f"\n== {language} example", flush=True)
        try:
            completed = subprocess.run(
                command,
                cwd=REPO,
                stdin=subprocess.DEVNULL,
                capture_output=True,
                text=True,
                timeout=EXAMPLE_SECONDS,
            )
        except subprocess.TimeoutExpired:
            print(f"FAIL {language} example: still running after {EXAMPLE_SECONDS} s")
            failed += 1
            continue
        if completed.returncode != 0:
            print(f"FAIL {language} example: exit code {completed.returncode}")
            print((completed.stdout + completed.stderr)[-2000:])
            failed += 1
            continue
        print(f"PASS {language} example", flush=True)
        passed += 1
    return passed, failed
