from django.urls import include, path
from rest_framework.routers import DefaultRouter

from marketing.api.views import CampaignViewSet, ConsentViewSet, SegmentViewSet, TouchViewSet

router = DefaultRouter()
router.register("campaigns", CampaignViewSet, basename="campaign")
router.register("touches", TouchViewSet, basename="touch")
router.register("consents", ConsentViewSet, basename="consent")
router.register("segments", SegmentViewSet, basename="segment")

urlpatterns = [path("", include(router.urls))]
