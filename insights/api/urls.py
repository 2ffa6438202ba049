from django.urls import include, path

from customer360.api.routers import IdRouter
from insights.api import views

router = IdRouter()
router.register("actions", views.ActionViewSet, basename="insights-action")
router.register("recommendations", views.RecommendationViewSet, basename="insights-recommendation")
router.register("customers", views.CustomerViewSet, basename="insights-customer")
router.register("model-versions", views.ModelVersionViewSet, basename="insights-model-version")

urlpatterns = [path("", include(router.urls))]
