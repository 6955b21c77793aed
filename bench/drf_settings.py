"""Settings of the DRF benchmark app (``bench.wsgi``): the example's, other URLs."""

from __future__ import annotations

from examples.order_api.django_app.settings import *  # noqa: F403

ROOT_URLCONF = "bench.drf_urls"
ALLOWED_HOSTS = ["*"]
# CommonMiddleware sets Content-Length: the load generator reads keep-alive responses by it.
MIDDLEWARE = ["django.middleware.common.CommonMiddleware"]
