from __future__ import annotations

from django.urls import path

from . import views

urlpatterns = [
    path("api/public", views.Public.as_view()),
    path("api/protected", views.Protected.as_view()),
    path("api/private-scoped", views.PrivateScoped.as_view()),
    path("api/orders", views.Orders.as_view()),
    path("api/orders/<int:order_id>", views.OrderDetail.as_view()),
]
