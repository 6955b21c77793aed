"""Settings of the one-app Django project of the adapter tests (URLs: ``_django_urls``).

``DJANGO_SETTINGS_MODULE=_django_settings``; GENAUTH_* come from the environment
(gunicorn) or from ``override_settings`` (in-process tests).
"""

from __future__ import annotations

from typing import Any

SECRET_KEY = "tests-only-not-secret"
DEBUG = False
ALLOWED_HOSTS = ["*"]
ROOT_URLCONF = "_django_urls"
USE_TZ = True
INSTALLED_APPS = ["django.contrib.contenttypes", "django.contrib.auth", "rest_framework"]
DATABASES: dict[str, Any] = {}
MIDDLEWARE: list[str] = []
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["genauth_guard.django.GenAuthAuthentication"],
    "EXCEPTION_HANDLER": "genauth_guard.django.exception_handler",
}
GENAUTH_REALM = "orders"
GENAUTH_PUBLIC_PATHS = ["/health", "/public"]
GENAUTH_ALLOW_QUERY_TOKEN = True
