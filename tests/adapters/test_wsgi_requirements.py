"""Per-route requirements (issue 14's table) through Flask's decorators and DRF's
permission classes: the same declarations, the same answers as Starlette and FastAPI."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx2
import pytest
import test_django  # configures Django for this session
from _contract import REALM
from _requirement_cases import CASES, Case, Declared, check_answer, headers_for, route_name
from django.test import Client, override_settings
from django.urls import path
from flask import Flask
from flask.testing import FlaskClient
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from genauth_guard import django as guard_django
from genauth_guard import flask as guard_flask
from genauth_guard.testing import LocalIssuer


def _flask_app(issuer: LocalIssuer) -> Flask:
    app = Flask("requirements")
    app.config.update(
        GENAUTH_ISSUER=issuer.issuer,
        GENAUTH_AUDIENCE=issuer.audience,
        GENAUTH_MODE="identify",
        GENAUTH_REALM=REALM,
    )
    guard_flask.GenAuthGuard(app)
    for case in CASES:
        declared = case.declared
        make = guard_flask.require_any_scope if declared.any_scope else guard_flask.require_scopes

        def view() -> str:
            token = guard_flask.access_token()
            return f"ok {token.subject if token else ''}"

        app.add_url_rule(f"/{route_name(case)}", route_name(case), make(*declared.items)(view))
    return app


def _drf_view(declared: Declared) -> Any:
    make = guard_django.require_any_scope if declared.any_scope else guard_django.require_scopes

    class View(APIView):
        permission_classes = [make(*declared.items)]

        def get(self, request: Request) -> Response:
            return Response(f"ok {request.auth.subject}")

    return View.as_view()


urlpatterns = [path(route_name(case), _drf_view(case.declared)) for case in CASES]


@pytest.fixture(scope="module")
def flask_client(shared_issuer: LocalIssuer) -> Iterator[FlaskClient]:
    app = _flask_app(shared_issuer)
    yield app.test_client()
    guard_flask.GenAuthGuard.verifier(app).close()


@pytest.fixture(scope="module")
def drf(shared_issuer: LocalIssuer) -> Iterator[None]:
    with override_settings(
        ROOT_URLCONF=__name__, GENAUTH_ISSUER=shared_issuer.issuer, GENAUTH_AUDIENCE="order-api"
    ):
        yield


def _check(case: Case, response: httpx2.Response) -> None:
    body = response.json() if response.status_code != 200 else None
    check_answer(case, response.status_code, response.headers.get, body, REALM)


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_flask(flask_client: FlaskClient, shared_issuer: LocalIssuer, case: Case) -> None:
    response = flask_client.get(f"/{route_name(case)}", headers=headers_for(shared_issuer, case))
    _check(
        case, test_django.as_httpx(response.status_code, response.headers.items(), response.data)
    )
    if case.status == 200:
        assert response.text == "ok svc"


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_drf(drf: None, shared_issuer: LocalIssuer, case: Case) -> None:
    headers = headers_for(shared_issuer, case)
    response = test_django.converted(Client().get(f"/{route_name(case)}", headers=headers))
    _check(case, response)
    if case.status == 200:
        assert response.json() == "ok svc"
