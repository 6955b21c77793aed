"""The order API's views: DRF classes with the guard's permission classes."""

from __future__ import annotations

from rest_framework import serializers
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from examples.order_api.orders import OrderStore
from genauth_guard import require_roles
from genauth_guard.django import require_scopes

STORE = OrderStore()


class NewOrder(serializers.Serializer):  # type: ignore[misc]
    item = serializers.CharField(min_length=1, max_length=200)
    quantity = serializers.IntegerField(min_value=1, max_value=10_000, default=1)


class Public(APIView):
    permission_classes = [AllowAny]

    def get(self, request: Request) -> Response:
        return Response({"message": "Hello from a public endpoint! No token needed."})


class Protected(APIView):
    permission_classes = [require_scopes()]

    def get(self, request: Request) -> Response:
        return Response(
            {"message": "Hello from a protected endpoint!", "subject": request.auth.subject}
        )


class PrivateScoped(APIView):
    permission_classes = [require_scopes("order:read")]

    def get(self, request: Request) -> Response:
        return Response(
            {
                "message": "Hello from a private endpoint! You need order:read to see this.",
                "subject": request.auth.subject,
                "scopes": sorted(request.auth.scopes),
            }
        )


class Orders(APIView):
    def get_permissions(self) -> list[object]:
        # Reading needs order:read, placing an order needs order:write.
        scope = "order:read" if self.request.method == "GET" else "order:write"
        return [require_scopes(scope)()]

    def get(self, request: Request) -> Response:
        return Response({"subject": request.auth.subject, "orders": STORE.all()})

    def post(self, request: Request) -> Response:
        order = NewOrder(data=request.data)
        order.is_valid(raise_exception=True)  # 400 with the fields at fault
        return Response(STORE.add(dict(order.validated_data), request.auth.subject), status=201)


class OrderDetail(APIView):
    permission_classes = [require_scopes("order:write", require_roles("order-admin"))]

    def delete(self, request: Request, order_id: int) -> Response:
        """Delete an order: for members of the order-admin role."""
        if not STORE.remove(order_id):
            return Response({"error": "not_found", "error_description": "no such order"}, 404)
        return Response(status=204)
