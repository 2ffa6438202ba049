from django.urls import path

from crm import views

app_name = "crm"

urlpatterns = [
    path("deals/", views.deal_list, name="deal_list"),
    path("deals/new/", views.deal_create, name="deal_create"),
    path("deals/<int:pk>/", views.deal_detail, name="deal_detail"),
    path("deals/<int:pk>/edit/", views.deal_edit, name="deal_edit"),
    path("deals/<int:pk>/move/", views.deal_move, name="deal_move"),
    path("deals/<int:pk>/won/", views.deal_won, name="deal_won"),
    path("deals/<int:pk>/lost/", views.deal_lost, name="deal_lost"),
    path("activities/", views.activity_list, name="activity_list"),
    path("activities/new/", views.activity_create, name="activity_create"),
    path("activities/<int:pk>/", views.activity_detail, name="activity_detail"),
    path("customers/<int:customer_pk>/log-call/", views.log_call, name="log_call"),
    path("contracts/new/", views.contract_create, name="contract_create"),
    path("contracts/<int:pk>/", views.contract_detail, name="contract_detail"),
    path("contracts/<int:pk>/cancel/", views.contract_cancel, name="contract_cancel"),
    path("contracts/<int:pk>/renew/", views.contract_renew, name="contract_renew"),
    path("tickets/", views.ticket_list, name="ticket_list"),
    path("tickets/new/", views.ticket_create, name="ticket_create"),
    path("tickets/<int:pk>/", views.ticket_detail, name="ticket_detail"),
    path("tickets/<int:pk>/edit/", views.ticket_edit, name="ticket_edit"),
    path("tickets/<int:pk>/reply/", views.ticket_reply, name="ticket_reply"),
    path("tickets/<int:pk>/solve/", views.ticket_solve, name="ticket_solve"),
    path("tickets/<int:pk>/close/", views.ticket_close, name="ticket_close"),
    path("tickets/<int:pk>/reopen/", views.ticket_reopen, name="ticket_reopen"),
    path("tickets/<int:pk>/status/", views.ticket_status, name="ticket_status"),
    path("tickets/<int:pk>/csat/", views.ticket_csat, name="ticket_csat"),
    path("exchange-rates/", views.exchange_rates, name="exchange_rates"),
    path("exchange-rates/import/", views.exchange_rates_import, name="exchange_rates_import"),
]
