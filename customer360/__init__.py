"""Customer 360: the project package and the core app."""

from customer360.celery import app as celery_app

__all__ = ["celery_app"]
