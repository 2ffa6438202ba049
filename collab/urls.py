from django.urls import path
from django.views.generic import RedirectView

from collab import views

app_name = "collab"

urlpatterns = [
    path("", views.feed, name="feed"),
    path("spaces/", views.space_list, name="space_list"),
    path("spaces/<slug:slug>/", views.space_detail, name="space_detail"),
    path("posts/<int:pk>/", views.post_detail, name="post_detail"),
    path("posts/<int:pk>/edit/", views.post_edit, name="post_edit"),
    path("posts/<int:pk>/comments/", views.comment_create, name="comment_create"),
    path("posts/<int:pk>/react/", views.reaction_toggle, name="reaction_toggle"),
    path("posts/<int:pk>/report/", views.post_report, name="post_report"),
    path("posts/<int:pk>/moderate/", views.post_moderate, name="post_moderate"),
    path("comments/<int:pk>/accept/", views.comment_accept, name="comment_accept"),
    path("requests/", views.request_inbox, name="requests"),
    path("requests/<int:pk>/<str:action>/", views.request_action, name="request_action"),
    path("moderation/", views.moderation, name="moderation"),
    path("conduct/", views.conduct, name="conduct"),
    path("notifications/", views.notifications, name="notifications"),
    path("notifications/bell/", views.bell, name="bell"),
    path("notifications/<int:pk>/", views.notification_open, name="notification_open"),
    path("customers/autocomplete/", views.customer_autocomplete, name="customer_autocomplete"),
    path("search/", views.feed_search, name="search"),
    # The page moved to analytics; old links and bookmarks still work.
    path(
        "analytics/", RedirectView.as_view(pattern_name="analytics:feed", query_string=True, permanent=True)
    ),
]
