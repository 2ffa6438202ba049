from django.urls import include, path

from customer360.api.routers import IdRouter
from marketing.api.views import CampaignViewSet, ConsentViewSet, SegmentViewSet, TouchViewSet

router = IdRouter()
router.register("campaigns", CampaignViewSet, basename="campaign")
router.register("touches", TouchViewSet, basename="touch")
router.register("consents", ConsentViewSet, basename="consent")
router.register("segments", SegmentViewSet, basename="segment")

urlpatterns = [path("", include(router.urls))]
