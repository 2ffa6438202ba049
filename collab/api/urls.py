from django.urls import include, path

from collab.api import views
from customer360.api.routers import IdRouter

router = IdRouter()
router.register("spaces", views.SpaceViewSet, basename="collab-space")
router.register("posts", views.PostViewSet, basename="collab-post")
router.register("comments", views.CommentViewSet, basename="collab-comment")
router.register("requests", views.RequestViewSet, basename="collab-request")
router.register("notifications", views.NotificationViewSet, basename="collab-notification")

urlpatterns = [path("", include(router.urls))]
