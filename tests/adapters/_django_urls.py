"""Views and URLs of the adapter tests' Django project: DRF views and plain ones."""

from __future__ import annotations

from django.http import HttpRequest, JsonResponse
from django.urls import path
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from genauth_guard.django import require_any_scope, require_scopes


class Orders(APIView):
    permission_classes = [require_scopes("order:read")]

    def get(self, request: Request) -> Response:
        token = request.auth
        return Response({"sub": token.subject, "scopes": sorted(token.scopes)})


class OrdersAny(APIView):
    permission_classes = [require_any_scope("order:read", "order:write")]

    def get(self, request: Request) -> Response:
        return Response({"user": request.user.identity})


class SignedIn(APIView):
    permission_classes = [require_scopes()]

    def get(self, request: Request) -> Response:
        return Response({"user": request.user.username})


class Public(APIView):
    permission_classes = [AllowAny]

    def get(self, request: Request) -> Response:
        return Response({"ok": True})


def me(request: HttpRequest) -> JsonResponse:
    """A plain Django view: what the middleware attached."""
    token = getattr(request, "access_token", None)
    return JsonResponse({"authenticated": token is not None, "sub": token and token.subject})


async def me_async(request: HttpRequest) -> JsonResponse:
    return me(request)


class Authenticated(APIView):
    """DRF's own IsAuthenticated permission in front of the guard's authentication."""

    permission_classes = [IsAuthenticated]

    def get(self, request: Request) -> Response:
        return Response({"ok": True})


urlpatterns = [
    path("authenticated", Authenticated.as_view()),
    path("orders", Orders.as_view()),
    path("orders-any", OrdersAny.as_view()),
    path("signed-in", SignedIn.as_view()),
    path("public", Public.as_view()),
    path("health", Public.as_view()),
    path("me", me),
    path("me-async", me_async),
]
