"""The order API in Django REST Framework: the same routes and the same story.

Run it against any OIDC issuer::

    DJANGO_SETTINGS_MODULE=examples.order_api.django_app.settings \\
    GENAUTH_ISSUER=https://{app-domain}/oidc GENAUTH_AUDIENCE={app-id} \\
        gunicorn --threads 8 examples.order_api.django_app.wsgi:application
"""
