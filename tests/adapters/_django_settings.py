"""Settings of the one-app Django project of the adapter tests (URLs: ``_django_urls``).

``DJANGO_SETTINGS_MODULE=_django_settings``; GENAUTH_* come from the environment
(gunicorn) or from ``override_settings`` (in-process tests).
"""

from __future__ import annotations

import os
from typing import Any

SECRET_KEY = "tests-only-not-secret"
DEBUG = False
ALLOWED_HOSTS = ["*"]
ROOT_URLCONF = "_django_urls"
USE_TZ = True
INSTALLED_APPS = ["django.contrib.contenttypes", "django.contrib.auth", "rest_framework"]
DATABASES: dict[str, Any] = {}
# Under gunicorn the tests choose the middleware's mode (or none: DRF alone) this way.
_MODE = os.environ.get("TEST_GUARD_MIDDLEWARE")
MIDDLEWARE = ["genauth_guard.django.GenAuthMiddleware"] if _MODE else []
GENAUTH_MODE = _MODE or "protect"
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["genauth_guard.django.GenAuthAuthentication"],
    "EXCEPTION_HANDLER": "genauth_guard.django.exception_handler",
}
GENAUTH_REALM = "orders"
GENAUTH_PUBLIC_PATHS = ["/health", "/public"]
GENAUTH_ALLOW_QUERY_TOKEN = True
