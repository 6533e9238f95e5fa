"""The Celery app: filesystem transport on the embedded default, Redis in production."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "peacewatch.settings")

app = Celery("peacewatch")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
