"""PeaceWatch: drone reports in, live alerts and analytics out."""

from peacewatch.celery import app as celery_app

__all__ = ["celery_app"]
