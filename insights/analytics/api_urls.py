from django.urls import path
from rest_framework.routers import DefaultRouter

from insights.analytics.api.views import ChartDataView, TopicViewSet

router = DefaultRouter()
router.register("topics", TopicViewSet, basename="analytics-topic")

urlpatterns = [
    path("charts/<slug:dashboard>/<str:chart>/", ChartDataView.as_view(), name="analytics-chart-data"),
    *router.urls,
]
