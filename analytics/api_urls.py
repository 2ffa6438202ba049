from django.urls import path

from analytics.api.views import ChartDataView, TopicViewSet
from customer360.api.routers import IdRouter

router = IdRouter()
router.register("topics", TopicViewSet, basename="analytics-topic")

urlpatterns = [
    path("charts/<slug:dashboard>/<str:chart>/", ChartDataView.as_view(), name="analytics-chart-data"),
    *router.urls,
]
