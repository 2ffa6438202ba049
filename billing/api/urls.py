from django.urls import include, path

from billing.api import views
from customer360.api.routers import IdSimpleRouter

router = IdSimpleRouter()
router.register("invoices", views.InvoiceViewSet, basename="billing-invoice")
router.register("payments", views.PaymentViewSet, basename="billing-payment")
router.register("notices", views.DunningNoticeViewSet, basename="billing-notice")
router.register("policies", views.DunningPolicyViewSet, basename="billing-policy")
router.register("levels", views.DunningLevelViewSet, basename="billing-level")

urlpatterns = [path("", include(router.urls))]
