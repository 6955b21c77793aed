"""The FastAPI requirement is one dependency level, and OpenAPI still sees scheme and scopes."""

# No `from __future__ import annotations`: FastAPI reads these signatures at runtime.

from typing import Annotated, Any

from fastapi import Depends, FastAPI
from fastapi.routing import APIRoute
from fastapi.security.base import SecurityBase

from genauth_guard import AccessToken
from genauth_guard._verifier import Verifier
from genauth_guard.fastapi import FastAPIGuard


def test_requirement_is_a_security_scheme_with_no_sub_dependency(verifier: Verifier) -> None:
    guard = FastAPIGuard(verifier)
    app = FastAPI()
    guard.install(app)

    @app.get("/orders")
    async def orders(
        token: Annotated[AccessToken, Depends(guard.require_scopes("order:read"))],
        maybe: Annotated[AccessToken | None, Depends(guard.optional())],
    ) -> Any:
        return {}

    (route,) = [r for r in app.routes if isinstance(r, APIRoute)]
    requirements = route.dependant.dependencies
    assert len(requirements) == 2
    for requirement in requirements:
        assert isinstance(requirement.call, SecurityBase)
        assert requirement.dependencies == []  # the verification is the call itself
    security = app.openapi()["paths"]["/orders"]["get"]["security"]
    # DPoP allowed (the default): the DPoP scheme is the alternative (RFC 9449 7.1).
    assert security == [{"bearer": ["order:read"]}, {"dpop": ["order:read"]}]


def test_scopes_of_nested_dependencies_are_documented(verifier: Verifier) -> None:
    guard = FastAPIGuard(verifier)
    app = FastAPI()
    guard.install(app)

    async def writer(
        token: Annotated[AccessToken, Depends(guard.require_any_scope("order:write", "admin"))],
    ) -> AccessToken:
        return token

    @app.post("/orders")
    async def create(
        token: Annotated[AccessToken, Depends(writer)],
        reader: Annotated[AccessToken, Depends(guard.require_scopes("order:read"))],
    ) -> Any:
        return {}

    security = app.openapi()["paths"]["/orders"]["post"]["security"]
    scopes = ["order:write", "admin", "order:read"]
    assert security == [{"bearer": scopes}, {"dpop": scopes}]
