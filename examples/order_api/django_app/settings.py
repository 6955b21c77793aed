"""Settings of the DRF order API. GENAUTH_ISSUER and GENAUTH_AUDIENCE come from the
environment (genauth-guard reads GENAUTH_* settings first, then the environment)."""

from __future__ import annotations

from typing import Any

SECRET_KEY = "example-only-not-secret"  # the example keeps no sessions or cookies
DEBUG = False
ALLOWED_HOSTS = ["127.0.0.1", "localhost", "testserver"]
ROOT_URLCONF = "examples.order_api.django_app.urls"
INSTALLED_APPS = ["django.contrib.contenttypes", "django.contrib.auth", "rest_framework"]
DATABASES: dict[str, Any] = {}
MIDDLEWARE: list[str] = []
USE_TZ = True

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["genauth_guard.django.GenAuthAuthentication"],
    "EXCEPTION_HANDLER": "genauth_guard.django.exception_handler",
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "UNAUTHENTICATED_USER": None,
}
GENAUTH_REALM = "api"
