"""The real command never shows a traceback: one line on stderr and a meaningful exit."""

from __future__ import annotations

import json
import os
import pty
import signal
import socket
import subprocess
import sys
import time
from typing import Any

import pytest

from genauth_guard import __version__
from genauth_guard.testing import LocalIssuer

COMMAND = [sys.executable, "-m", "genauth_guard"]


def clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GENAUTH_")}
    return env | extra


def test_version(run: Any) -> None:
    result = run("--version")
    assert result.returncode == 0
    assert result.stdout.strip() == f"genauth-guard {__version__}"


@pytest.mark.parametrize("command", ["issuer", "token", "verify", "doctor"])
def test_every_subcommand_has_help_with_defaults(run: Any, command: str) -> None:
    result = run(command, "--help")
    assert result.returncode == 0
    assert "default" in result.stdout
    assert "None" not in result.stdout


def test_issuer_help_shows_its_defaults(run: Any) -> None:
    text = run("issuer", "--help").stdout
    assert "(default: 9000)" in text
    assert "(default: 127.0.0.1)" in text
    assert "--public-url" in text


@pytest.mark.parametrize(
    ("args", "status", "message"),
    [
        (["verify", "--issuer", "http://10.1.2.3/oidc", "--audience", "a", "t"], 2, "--allow-http"),
        (["verify", "--issuer", "not-a-url", "--audience", "a", "t"], 2, "absolute https URL"),
        (
            [
                "verify",
                "--issuer",
                "https://i/oidc",
                "--audience",
                "a",
                "--jwks-uri",
                "ftp://x",
                "t",
            ],
            2,
            "jwks_uri must be",
        ),
        (
            ["verify", "--issuer", "https://i/oidc", "--audience", "a", "--leeway", "-3", "t"],
            2,
            "leeway",
        ),
        (["issuer", "--port", "99999"], 2, "port must be 0-65535"),
        (["issuer", "--port", "abc"], 2, "not a port number"),
        (["issuer", "--host", "0.0.0.0"], 2, "--public-url"),
        (["issuer", "--public-url", "not a url"], 2, "public_url"),
        (["issuer", "--client", "nope"], 2, "ID:SECRET"),
        (["doctor"], 2, "--issuer is required"),
        (["nonsense"], 2, "invalid choice"),
        (["token", "--issuer", "https://i/oidc", "--client-id", "a", "--retries", "-1"], 2, ""),
    ],
)
def test_bad_input_is_one_line_and_an_exit_status(
    run: Any, args: list[str], status: int, message: str
) -> None:
    result = run(*args, env={"GENAUTH_CLIENT_SECRET": "x"})
    assert result.returncode == status, result.stderr
    assert message in result.stderr
    assert "Traceback" not in result.stderr


def test_busy_port(run: Any) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = run("issuer", "--port", str(port))
    assert result.returncode == 2
    assert f"cannot listen on 127.0.0.1:{port}" in result.stderr
    assert "Traceback" not in result.stderr


def test_public_url_names_the_issuer_and_warns(run: Any) -> None:
    process = subprocess.Popen(
        [
            *COMMAND,
            "issuer",
            "--host",
            "0.0.0.0",
            "--port",
            "0",
            "--public-url",
            "http://api-host:9000",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=clean_env(),
    )
    try:
        assert process.stdout is not None
        assert "FOR DEVELOPMENT ONLY" in process.stdout.readline()
        lines = []
        for line in process.stdout:
            lines.append(line)
            if line.startswith("}"):
                break
        printed = json.loads("".join(lines))
    finally:
        process.send_signal(signal.SIGINT)
        _, err = process.communicate(timeout=30)
    assert printed["issuer"] == "http://api-host:9000/oidc"
    assert printed["token_endpoint"] == "http://api-host:9000/oidc/token"
    assert "reachable beyond this machine" in err
    assert process.returncode == 0


def test_verify_accepts_a_bearer_prefix(issuer: LocalIssuer, run: Any) -> None:
    token = issuer.mint(scope="order:read")
    args = ["verify", "--issuer", issuer.issuer, "--audience", "order-api"]
    assert run(*args, f"Bearer {token}").returncode == 0
    assert run(*args, "-", stdin=f"bearer  {token}\n").returncode == 0


def test_verify_refuses_to_wait_on_a_terminal(issuer: LocalIssuer) -> None:
    leader, follower = pty.openpty()
    try:
        result = subprocess.run(
            [*COMMAND, "verify", "--issuer", issuer.issuer, "--audience", "order-api"],
            stdin=follower,
            capture_output=True,
            text=True,
            env=clean_env(),
            timeout=30,
            check=False,
        )
    finally:
        os.close(leader)
        os.close(follower)
    assert result.returncode == 2
    assert "no token given" in result.stderr


def test_verify_rejects_stdin_that_is_not_text(issuer: LocalIssuer) -> None:
    result = subprocess.run(
        [*COMMAND, "verify", "--issuer", issuer.issuer, "--audience", "order-api", "-"],
        input=b"\xff\xfe\x00garbage",
        capture_output=True,
        env=clean_env(),
        timeout=30,
        check=False,
    )
    assert result.returncode == 2
    assert b"stdin is not text" in result.stderr


def test_show_claims_prints_the_unverified_parts(issuer: LocalIssuer, run: Any) -> None:
    token = issuer.mint(scope="order:read", audience="another-app", claims={"note": "\x1b[31m"})
    result = run(
        "verify", "--issuer", issuer.issuer, "--audience", "order-api", "--show-claims", token
    )
    assert result.returncode == 1
    assert result.stderr.startswith("invalid_token: audience not accepted")
    assert "'another-app'" in result.stderr  # the token's value beside the expected one
    shown = json.loads(result.stdout)
    assert shown["unverified_claims"]["aud"] == "another-app"
    assert shown["unverified_header"]["alg"] == "RS256"
    assert "\x1b" not in result.stdout  # escaped, not replayed to the terminal
    assert token.rsplit(".", 1)[1] not in result.stdout


def test_verify_settings_come_from_the_environment(issuer: LocalIssuer, run: Any) -> None:
    token = issuer.mint(scope="order:read")
    env = {"GENAUTH_ISSUER": issuer.issuer, "GENAUTH_AUDIENCE": "order-api"}
    assert run("verify", token, env=env).returncode == 0
    typo = run("verify", token, env={**env, "GENAUTH_AUDIENCES": "x"})
    assert typo.returncode == 0
    assert "GENAUTH_AUDIENCES" in typo.stderr
    assert "did you mean GENAUTH_AUDIENCE" in typo.stderr


def test_token_warns_when_less_scope_is_granted(issuer: LocalIssuer, run: Any) -> None:
    result = run(
        "token",
        "--issuer",
        issuer.issuer,
        "--scope",
        "order:read",
        "--scope",
        "order:write",
        env={"GENAUTH_CLIENT_ID": "order-reader", "GENAUTH_CLIENT_SECRET": "reader-secret"},
    )
    assert result.returncode == 0
    assert result.stdout.count(".") == 2  # the token is still printed
    assert "not granted: order:write" in result.stderr
    assert "granted: order:read" in result.stderr


def test_ctrl_c_is_one_line(issuer: LocalIssuer) -> None:
    issuer.fail("discovery", "hang")
    token = issuer.mint(scope="order:read")
    process = subprocess.Popen(
        [*COMMAND, "verify", "--issuer", issuer.issuer, "--audience", "order-api", token],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=clean_env(),
    )
    try:
        deadline = time.monotonic() + 30
        while issuer.counts["discovery"] == 0 and time.monotonic() < deadline:
            time.sleep(0.02)  # waiting for the child to reach the issuer, not for time
        process.send_signal(signal.SIGINT)
        _, err = process.communicate(timeout=30)
    finally:
        issuer.heal()
    assert process.returncode == 130
    assert err == "genauth-guard verify: interrupted\n"
