from django.urls import include, path

from crm.api import views
from customer360.api.routers import IdRouter

router = IdRouter()
router.register("products", views.ProductViewSet, basename="crm-product")
router.register("pipelines", views.PipelineViewSet, basename="crm-pipeline")
router.register("stages", views.StageViewSet, basename="crm-stage")
router.register("contracts", views.ContractViewSet, basename="crm-contract")
router.register("deals", views.DealViewSet, basename="crm-deal")
router.register("activities", views.ActivityViewSet, basename="crm-activity")
router.register("tickets", views.TicketViewSet, basename="crm-ticket")

urlpatterns = [path("", include(router.urls))]
