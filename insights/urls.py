from django.urls import path
from django.views.generic import RedirectView

from insights import views

app_name = "insights"

urlpatterns = [
    path("", views.my_recommendations, name="my_recommendations"),
    path("catalogue/", views.catalogue, name="catalogue"),
    path("actions/new/", views.action_edit, name="action_new"),
    path("actions/<int:pk>/edit/", views.action_edit, name="action_edit"),
    path("outcomes/", views.outcome_list, name="outcomes"),
    path("outcomes/new/", views.outcome_edit, name="outcome_new"),
    path("outcomes/<int:pk>/", views.outcome_detail, name="outcome"),
    path("outcomes/<int:pk>/edit/", views.outcome_edit, name="outcome_edit"),
    path("outcomes/<int:pk>/evaluate/", views.outcome_evaluate, name="outcome_evaluate"),
    path("outcomes/<int:pk>/activate/", views.outcome_activate, name="outcome_activate"),
    # The page moved to analytics (which may read insights); old links and bookmarks still work.
    path(
        "performance/",
        RedirectView.as_view(pattern_name="analytics:nba_performance", query_string=True, permanent=True),
    ),
    path("performance/rescore/", views.rescore_all, name="rescore_all"),
    path("performance/retrain/", views.retrain, name="retrain"),
    path("jobs/<int:pk>/", views.job_progress, name="job"),
    path("recommendations/<int:pk>/accept/", views.accept, name="accept"),
    path("recommendations/<int:pk>/dismiss/", views.dismiss, name="dismiss"),
    path("recommendations/<int:pk>/complete/", views.complete, name="complete"),
]
