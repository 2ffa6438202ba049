"""The ingestion API, mounted at /api/sources/."""

from django.urls import path

from customer360.sources.api.views import FileView, RecordsView, WebhookView

urlpatterns = [
    path("<slug:slug>/records", RecordsView.as_view(), name="sources-api-records"),
    path("<slug:slug>/files", FileView.as_view(), name="sources-api-files"),
    path("<slug:slug>/webhook", WebhookView.as_view(), name="sources-api-webhook"),
]
