from django.urls import include, path

from customer360.api.routers import IdRouter
from customer360.api.views import CustomerViewSet

router = IdRouter()
router.register("customers", CustomerViewSet, basename="customer")

urlpatterns = [
    path("", include(router.urls)),
    path("sources/", include("customer360.sources.api_urls")),
    path("crm/", include("crm.api.urls")),
    path("marketing/", include("marketing.api.urls")),
    path("billing/", include("billing.api.urls")),
    path("collab/", include("collab.api.urls")),
    path("insights/", include("insights.api.urls")),
    path("analytics/", include("analytics.api_urls")),
]
