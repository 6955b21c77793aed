"""The DRF benchmark app: two identical views, one public, one needing order:read."""

from __future__ import annotations

from django.urls import path
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from genauth_guard.django import require_scopes


class Public(APIView):
    permission_classes = [AllowAny]

    def get(self, request: Request) -> Response:
        return Response("ok")


class Orders(Public):
    permission_classes = [require_scopes("order:read")]


urlpatterns = [path("public", Public.as_view()), path("orders", Orders.as_view())]
