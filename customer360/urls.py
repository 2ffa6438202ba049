"""Root URLs: the core's pages and every app's, the API, admin, health, language switch."""

from django.contrib import admin
from django.contrib.auth.decorators import login_required
from django.urls import include, path
from django.views.generic import RedirectView
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerSplitView

from customer360 import calendar_feed, record_edit, saved_views, token_pages, views
from customer360.privacy import views as privacy_views
from customer360.signin import views as signin_views

core_patterns = [
    path("customers/", views.customer_list, name="customer_list"),
    path("customers/views/", saved_views.saved_view_create, name="saved_view_create"),
    path("customers/views/<int:pk>/delete/", saved_views.saved_view_delete, name="saved_view_delete"),
    path("customers/<int:pk>/", views.customer_detail, name="customer_detail"),
    path("customers/<int:pk>/record/", record_edit.customer_record, name="customer_record"),
    path("customers/<int:pk>/edit/", record_edit.customer_edit, name="customer_edit"),
    path("customers/<int:pk>/timeline/", views.customer_timeline, name="customer_timeline"),
    path("customers/<int:pk>/notes/", views.customer_add_note, name="customer_add_note"),
    path("customers/<int:pk>/access/", views.customer_access, name="customer_access"),
    path(
        "customers/<int:pk>/access/<int:assignment_pk>/revoke/",
        views.customer_access_revoke,
        name="customer_access_revoke",
    ),
    path("customers/<int:pk>/privacy/", privacy_views.customer_privacy, name="customer_privacy"),
    path(
        "customers/<int:pk>/privacy/exports/<int:export_pk>/",
        privacy_views.export_progress,
        name="privacy_export_progress",
    ),
    path(
        "customers/<int:pk>/privacy/exports/<int:export_pk>/download/",
        privacy_views.export_download,
        name="privacy_export_download",
    ),
    path(
        "customers/<int:pk>/privacy/erasure/<int:request_pk>/<str:decision>/",
        privacy_views.erasure_decide,
        name="privacy_erasure_decide",
    ),
    path("search/", views.search_typeahead, name="search"),
    path("account/api-tokens/", token_pages.token_list, name="api_tokens"),
    path("account/api-tokens/<int:pk>/revoke/", token_pages.token_revoke, name="api_token_revoke"),
    path("account/calendar/", calendar_feed.feed_page, name="calendar_feed_page"),
    path("account/calendar/revoke/", calendar_feed.feed_revoke, name="calendar_feed_revoke"),
]

urlpatterns = [
    path("", RedirectView.as_view(pattern_name="customer360:customer_list", permanent=False)),
    # Browsers ask for /favicon.ico on their own (PDFs, JSON, the API docs); pages link the SVG.
    path("favicon.ico", views.favicon),
    path("", include((core_patterns, "customer360"))),
    # A calendar app polls this without signing in: the secret in the path is the credential.
    path("calendar/<str:secret>.ics", calendar_feed.feed, name="calendar_feed"),
    path("accounts/", include("customer360.signin.urls")),
    path("i18n/setlang/", signin_views.set_language, name="set_language"),
    path("health/", views.health, name="health"),
    path("sources/", include("customer360.sources.urls")),
    path("", include("customer360.audit.urls")),
    path("admin/", admin.site.urls),
    path("api/", include("customer360.api.urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    # The HTML docs send anonymous browsers to the login page; the schema answers them 401.
    # Swagger UI's initializer comes from a second request (?script), not an inline script (CSP).
    path(
        "api/docs/",
        login_required(SpectacularSwaggerSplitView.as_view(url_name="api-schema")),
        name="api-docs",
    ),
    path("api/redoc/", login_required(SpectacularRedocView.as_view(url_name="api-schema")), name="api-redoc"),
    path("sales/", include("crm.urls")),
    path("marketing/", include("marketing.urls")),
    path("billing/", include("billing.urls")),
    path("feed/", include("collab.urls")),
    path("insights/", include("insights.urls")),
    path("dashboards/", include("analytics.urls")),
]

handler403 = "customer360.views.permission_denied"
handler404 = "customer360.views.page_not_found"
handler500 = "customer360.outage.server_error"
