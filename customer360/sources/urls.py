"""Data-source screens, mounted at /sources/."""

from django.urls import path

from customer360.sources import views

app_name = "sources"

urlpatterns = [
    path("", views.source_list, name="source_list"),
    path("new/", views.source_create, name="source_create"),
    path("duplicates/", views.duplicate_list, name="duplicate_list"),
    path("duplicates/scan/", views.duplicate_scan, name="duplicate_scan"),
    path("duplicates/<int:pk>/merge/", views.duplicate_merge, name="duplicate_merge"),
    path("duplicates/<int:pk>/dismiss/", views.duplicate_dismiss, name="duplicate_dismiss"),
    path("merges/<int:pk>/undo/", views.merge_undo_view, name="merge_undo"),
    path("runs/<int:pk>/", views.run_detail, name="run_detail"),
    path("runs/<int:pk>/mapping/", views.run_mapping, name="run_mapping"),
    path("runs/<int:pk>/progress/", views.run_progress, name="run_progress"),
    path("runs/<int:pk>/check/", views.run_check, name="run_check"),
    path("runs/<int:pk>/cancel/", views.run_cancel, name="run_cancel"),
    path("runs/<int:pk>/resume/", views.run_resume, name="run_resume"),
    path("runs/<int:pk>/undo/", views.run_undo, name="run_undo"),
    path("runs/<int:pk>/errors.csv", views.run_errors, name="run_errors"),
    path("<slug:slug>/", views.source_detail, name="source_detail"),
    path("<slug:slug>/upload/", views.run_upload, name="run_upload"),
    path("<slug:slug>/credentials/", views.source_credentials, name="source_credentials"),
    path("<slug:slug>/identity/", views.source_identity, name="source_identity"),
]
