"""Every code block of README.md and docs/*.md runs, as written, in ``make test``.

The convention for writing blocks (what a block may rely on):

- Files are discovered, not listed: README.md and every docs/*.md, now and later.
- Each ```` ```python ```` block is a self-contained script, run in a fresh
  interpreter from the repository root (so ``examples`` imports), with warnings about
  unclosed resources turned on: a block that leaves a client or an auth open fails.
- Each ```` ```sh ````, ```` ```bash ````, ```` ```shell ```` or ```` ```console ````
  block that calls ``genauth-guard`` runs with bash from the repository root (so
  ``.venv/bin/genauth-guard`` is the command: no activated venv is assumed). In a
  ``console`` block only the lines after a ``$ `` prompt run; the others are output.
  A line starting the local issuer (``genauth-guard issuer``) runs until it has
  printed its addresses, then is stopped; its ``--port`` is replaced by a free one.
- The environment holds a running local issuer and a running order API:
  ``GENAUTH_ISSUER`` (the issuer, ``http://127.0.0.1:PORT/oidc``),
  ``GENAUTH_AUDIENCE=order-api``, ``GENAUTH_CLIENT_ID=order-reader`` and
  ``GENAUTH_CLIENT_SECRET=s3cret`` (granted ``order:read``), ``ORDER_API_URL`` (the
  example order API of ``examples/order_api``, protected by that issuer) and ``TOKEN``
  (a valid access token with ``order:read``).
- GenAuth placeholders are filled in before running: ``https://{app-domain}/oidc``
  becomes the local issuer, ``{app-id}`` becomes ``order-api``.
- A block must finish on its own (define apps, never serve them forever) within a
  minute.

Blocks run in parallel, a few at a time; each is reported as its own test, named after
its file and line.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest

from genauth_guard.testing import LocalIssuer, serve

ROOT = Path(__file__).resolve().parents[2]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
FENCE = re.compile(r"^```([\w+-]*)[^\n]*\n(.*?)^```\s*$", re.MULTILINE | re.DOTALL)
SHELLS = {"sh", "bash", "shell", "console"}
ISSUER_LINE = re.compile(r"genauth-guard\s+issuer\b")
TIMEOUT = 60
PARALLEL = 4


@dataclass(frozen=True)
class Block:
    page: Path
    line: int
    language: str
    code: str

    @property
    def name(self) -> str:
        return f"{self.page.relative_to(ROOT)}:{self.line}"


def blocks() -> list[Block]:
    found = []
    for page in PAGES:
        text = page.read_text()
        for match in FENCE.finditer(text):
            language, code = match.group(1).lower(), match.group(2)
            line = text.count("\n", 0, match.start()) + 1
            if language == "python" or (language in SHELLS and "genauth-guard" in code):
                found.append(Block(page, line, language, code))
    return found


BLOCKS = blocks()


def fill(code: str, env: dict[str, str]) -> str:
    return code.replace("https://{app-domain}/oidc", env["GENAUTH_ISSUER"]).replace(
        "{app-id}", env["GENAUTH_AUDIENCE"]
    )


def shell_commands(block: Block) -> str:
    """The block's commands: a console block's prompted lines, or the whole script."""
    if block.language != "console":
        return block.code
    commands: list[str] = []
    continuing = False
    for line in block.code.splitlines():
        if line.startswith("$ ") or continuing:
            command = line[2:] if line.startswith("$ ") and not continuing else line
            commands.append(command)
            continuing = line.rstrip().endswith("\\")
    return "\n".join(commands)


def run_issuer_line(command: str, env: dict[str, str]) -> tuple[int, str]:
    """A line starting the local issuer: it must come up, print its JSON, stop on SIGINT."""
    command = re.sub(r"--port[ =]\d+", "--port 0", command)
    process = subprocess.Popen(
        ["bash", "-c", f"exec {command}"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    printed = []
    for line in process.stdout:
        printed.append(line)
        if line.startswith("}"):
            break
    process.send_signal(signal.SIGINT)
    try:
        out, err = process.communicate(timeout=TIMEOUT)
    except subprocess.TimeoutExpired:
        process.kill()
        out, err = process.communicate()
    started = any(line.startswith("}") for line in printed)
    output = "".join(printed) + out + err
    return (process.returncode if started else 1), output


def run_block(block: Block, env: dict[str, str]) -> tuple[int, str]:
    """Run one block; (exit status, everything it printed)."""
    code = fill(block.code, env)
    if block.language == "python":
        with tempfile.TemporaryDirectory() as scratch:
            script = Path(scratch) / "snippet.py"
            script.write_text(code)
            result = subprocess.run(
                [sys.executable, "-W", "always::ResourceWarning", str(script)],
                cwd=ROOT,
                env={**env, "PYTHONPATH": str(ROOT)},
                capture_output=True,
                text=True,
                timeout=TIMEOUT,
                check=False,
            )
        output = result.stdout + result.stderr
        if "ResourceWarning" in result.stderr:
            return 1, output + "\n(the block left a resource open)"
        return result.returncode, output
    script = fill(shell_commands(block), env)
    outputs = []
    rest: list[str] = []
    # Lines starting the issuer run on their own; the others run as one bash script.
    for line in re.split(r"(?<!\\)\n", script):
        if ISSUER_LINE.search(line) and not line.lstrip().startswith("#"):
            status, output = run_issuer_line(line.replace("\\\n", " "), env)
            outputs.append(output)
            if status != 0:
                return status, "\n".join(outputs)
        else:
            rest.append(line)
    result = subprocess.run(
        ["bash", "-e", "-o", "pipefail", "-c", "\n".join(rest)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        check=False,
    )
    outputs.append(result.stdout + result.stderr)
    return result.returncode, "\n".join(outputs)


@pytest.fixture(scope="module")
def environment() -> Iterator[dict[str, str]]:
    """The documented environment: a local issuer and the example order API, running."""
    from examples.order_api.app import create_app

    with LocalIssuer(audience="order-api") as issuer:
        issuer.add_client("order-reader", "s3cret", ["order:read"])
        settings = {"GENAUTH_ISSUER": issuer.issuer, "GENAUTH_AUDIENCE": "order-api"}
        with serve(create_app(settings)) as api:
            inherited = {k: v for k, v in os.environ.items() if not k.startswith("GENAUTH_")}
            yield {
                **inherited,
                **settings,
                "GENAUTH_CLIENT_ID": "order-reader",
                "GENAUTH_CLIENT_SECRET": "s3cret",
                "ORDER_API_URL": api,
                "TOKEN": issuer.mint(scope="order:read", sub="order-reader"),
            }


@pytest.fixture(scope="module")
def outcomes(environment: dict[str, str]) -> Iterator[dict[str, Future[tuple[int, str]]]]:
    """Every block started at once, a few at a time; each test waits for its own."""
    with ThreadPoolExecutor(max_workers=PARALLEL) as pool:
        yield {block.name: pool.submit(run_block, block, environment) for block in BLOCKS}


def test_blocks_are_found() -> None:
    assert any(block.page.name == "README.md" for block in BLOCKS)
    assert {block.language for block in BLOCKS} & {"python"}


@pytest.mark.parametrize("block", BLOCKS, ids=[block.name for block in BLOCKS])
def test_block_runs(block: Block, outcomes: dict[str, Future[tuple[int, str]]]) -> None:
    status, output = outcomes[block.name].result(timeout=TIMEOUT * 3)
    assert status == 0, f"{block.name} ({block.language}) failed:\n{output}"
