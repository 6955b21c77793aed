"""Run the real ``genauth-guard`` command in a subprocess."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable, Mapping

import pytest

Run = Callable[..., subprocess.CompletedProcess[str]]


@pytest.fixture
def run() -> Run:
    """``run(*args, env={...}, stdin=None)``: the command's exit code, stdout and stderr."""

    def call(
        *args: str, env: Mapping[str, str] | None = None, stdin: str | None = None
    ) -> subprocess.CompletedProcess[str]:
        environ = {k: v for k, v in os.environ.items() if not k.startswith("GENAUTH_")}
        environ.update(env or {})
        return subprocess.run(
            [sys.executable, "-m", "genauth_guard", *args],
            input="" if stdin is None else stdin,  # never the terminal of the test run
            capture_output=True,
            text=True,
            env=environ,
            timeout=60,
            check=False,
        )

    return call
