"""Routes of the history and audit pages (included by the core's URLconf)."""

from django.urls import path

from customer360.audit import views

app_name = "audit"

urlpatterns = [
    path("customers/<int:pk>/history/", views.customer_history, name="customer_history"),
    path("history/<str:model>/<int:pk>/", views.record_history, name="record_history"),
    path("audit/access/", views.access_log, name="access_log"),
    path("audit/changes/", views.change_log, name="change_log"),
    path("audit/retention/", views.retention_page, name="retention"),
]
