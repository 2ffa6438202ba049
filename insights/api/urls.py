from django.urls import include, path
from rest_framework.routers import DefaultRouter

from insights.api import views

router = DefaultRouter()
router.register("actions", views.ActionViewSet, basename="insights-action")
router.register("recommendations", views.RecommendationViewSet, basename="insights-recommendation")
router.register("customers", views.CustomerViewSet, basename="insights-customer")
router.register("model-versions", views.ModelVersionViewSet, basename="insights-model-version")

urlpatterns = [path("", include(router.urls))]
