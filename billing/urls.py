from django.urls import path

from billing import views

app_name = "billing"

urlpatterns = [
    path("invoices/", views.invoice_list, name="invoice_list"),
    path("invoices/new/", views.invoice_create, name="invoice_create"),
    path("invoices/<int:pk>/", views.invoice_detail, name="invoice_detail"),
    path("invoices/<int:pk>/edit/", views.invoice_edit, name="invoice_edit"),
    path("invoices/<int:pk>/<slug:action>/", views.invoice_action, name="invoice_action"),
    path("dunning/", views.dunning_overview, name="dunning"),
    path("dunning/run/", views.dunning_run_now, name="dunning_run"),
    path("dunning/jobs/<int:pk>/", views.dunning_job, name="dunning_job"),
]
