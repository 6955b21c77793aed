"""The Flask and DRF versions of the order API: the same story as the FastAPI one."""

from __future__ import annotations

from collections.abc import Iterator

import httpx2
import pytest

from examples.order_api import demo
from examples.order_api.flask_app import create_app
from genauth_guard import ClientCredentialsAuth
from genauth_guard.flask import GenAuthGuard
from genauth_guard.testing import LocalIssuer


@pytest.fixture
def api(issuer: LocalIssuer) -> Iterator[httpx2.Client]:
    """The Flask version in-process, over httpx2's WSGI transport."""
    app = create_app({"GENAUTH_ISSUER": issuer.issuer, "GENAUTH_AUDIENCE": "order-api"})
    with httpx2.Client(transport=httpx2.WSGITransport(app=app), base_url="http://orders") as client:
        yield client
    GenAuthGuard.verifier(app).close()


def auth(issuer: LocalIssuer, client_id: str, secret: str) -> ClientCredentialsAuth:
    return ClientCredentialsAuth(issuer=issuer.issuer, client_id=client_id, client_secret=secret)


def test_the_scope_story_in_flask(api: httpx2.Client, issuer: LocalIssuer) -> None:
    nobody = auth(issuer, "nobody", "nobody-secret")
    reader = auth(issuer, "order-reader", "reader-secret")
    writer = auth(issuer, "order-writer", "writer-secret")
    assert api.get("/api/public").status_code == 200
    assert api.get("/api/orders").headers.get_list("www-authenticate")[0] == 'Bearer realm="api"'
    assert api.get("/api/protected", auth=nobody).json()["subject"] == "nobody"
    assert api.get("/api/private-scoped", auth=nobody).status_code == 403
    assert api.get("/api/private-scoped", auth=reader).json()["scopes"] == ["order:read"]
    refused = api.post("/api/orders", json={"item": "tea"}, auth=reader)
    assert refused.status_code == 403
    assert 'scope="order:write"' in refused.headers["www-authenticate"]
    created = api.post("/api/orders", json={"item": "tea", "quantity": 3}, auth=writer)
    assert created.status_code == 201
    assert created.json() == {"item": "tea", "quantity": 3, "id": 1, "created_by": "order-writer"}
    assert api.get("/api/orders", auth=reader).json()["orders"] == [created.json()]
    assert api.post("/api/orders", json={"quantity": -1}, auth=writer).status_code == 422
    assert issuer.counts["token"] == 3
    for helper in (nobody, reader, writer):
        helper.close()


@pytest.mark.parametrize("server", ["flask", "django"])
def test_demo_runs_end_to_end_under_gunicorn(
    server: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert demo.main(["--server", server]) == 0
    out = capsys.readouterr().out
    for line in ("-> 401", "-> 403", "-> 200", "-> 201"):
        assert line in out
    assert "every call answered as expected" in out


def test_demo_refuses_an_unknown_server(capsys: pytest.CaptureFixture[str]) -> None:
    assert demo.main(["--server", "bottle"]) == 2
    assert "usage" in capsys.readouterr().err
