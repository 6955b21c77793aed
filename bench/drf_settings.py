"""Settings of the DRF benchmark app (``bench.wsgi``); GENAUTH_* from the environment."""

from __future__ import annotations

from typing import Any

SECRET_KEY = "bench-only-not-secret"
DEBUG = False
ALLOWED_HOSTS = ["*"]
ROOT_URLCONF = "bench.drf_urls"
INSTALLED_APPS = ["django.contrib.contenttypes", "django.contrib.auth", "rest_framework"]
DATABASES: dict[str, Any] = {}
# CommonMiddleware sets Content-Length: the load generator reads keep-alive responses by it.
MIDDLEWARE = ["django.middleware.common.CommonMiddleware"]
USE_TZ = True
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["genauth_guard.django.GenAuthAuthentication"],
    "EXCEPTION_HANDLER": "genauth_guard.django.exception_handler",
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "UNAUTHENTICATED_USER": None,
}
