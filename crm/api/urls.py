from django.urls import include, path
from rest_framework.routers import DefaultRouter

from crm.api import views

router = DefaultRouter()
router.register("products", views.ProductViewSet, basename="crm-product")
router.register("pipelines", views.PipelineViewSet, basename="crm-pipeline")
router.register("stages", views.StageViewSet, basename="crm-stage")
router.register("contracts", views.ContractViewSet, basename="crm-contract")
router.register("deals", views.DealViewSet, basename="crm-deal")
router.register("activities", views.ActivityViewSet, basename="crm-activity")
router.register("tickets", views.TicketViewSet, basename="crm-ticket")

urlpatterns = [path("", include(router.urls))]
