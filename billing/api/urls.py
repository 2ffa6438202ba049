from django.urls import include, path
from rest_framework.routers import SimpleRouter

from billing.api import views

router = SimpleRouter()
router.register("invoices", views.InvoiceViewSet, basename="billing-invoice")
router.register("payments", views.PaymentViewSet, basename="billing-payment")
router.register("notices", views.DunningNoticeViewSet, basename="billing-notice")
router.register("policies", views.DunningPolicyViewSet, basename="billing-policy")
router.register("levels", views.DunningLevelViewSet, basename="billing-level")

urlpatterns = [path("", include(router.urls))]
