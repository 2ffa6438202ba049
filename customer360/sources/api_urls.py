"""The ingestion API, mounted at /api/sources/."""

from django.urls import path

from customer360.sources.api.views import RecordsView, WebhookView

urlpatterns = [
    path("<slug:slug>/records", RecordsView.as_view(), name="sources-api-records"),
    path("<slug:slug>/webhook", WebhookView.as_view(), name="sources-api-webhook"),
]
