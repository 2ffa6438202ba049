from django.urls import path

from marketing import views

app_name = "marketing"

urlpatterns = [
    path("campaigns/", views.campaign_list, name="campaign_list"),
    path("campaigns/new/", views.campaign_create, name="campaign_create"),
    path("campaigns/<int:pk>/", views.campaign_detail, name="campaign_detail"),
    path("campaigns/<int:pk>/edit/", views.campaign_edit, name="campaign_edit"),
    path("campaigns/<int:pk>/send/", views.campaign_add_customer, name="campaign_add_customer"),
    path(
        "campaigns/<int:pk>/<str:action>/",
        views.campaign_action,
        name="campaign_action",
    ),
    path("segments/", views.segment_list, name="segment_list"),
    path("segments/new/", views.segment_edit, name="segment_create"),
    path("segments/count/", views.segment_count, name="segment_count"),
    path("segments/rule-row/", views.rule_row, name="rule_row"),
    path("segments/<int:pk>/", views.segment_edit, name="segment_edit"),
    path("segments/<int:pk>/members/", views.segment_members_page, name="segment_members"),
    path("customers/<int:pk>/consent/", views.customer_consent, name="customer_consent"),
    path("customers/<int:pk>/consent/proof/", views.customer_consent_proof, name="customer_consent_proof"),
]
