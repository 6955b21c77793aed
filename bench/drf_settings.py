"""Settings of the DRF benchmark app (``bench.wsgi``); GENAUTH_* from the environment."""

from __future__ import annotations

from examples.order_api.django_app.settings import *  # noqa: F403 (the example's, but:)

ROOT_URLCONF = "bench.drf_urls"
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["genauth_guard.django.GenAuthAuthentication"],
    "EXCEPTION_HANDLER": "genauth_guard.django.exception_handler",
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "UNAUTHENTICATED_USER": None,
}
