from django.urls import path

from analytics import feed_page, performance, views

app_name = "analytics"

urlpatterns = [
    path("", views.index, name="index"),
    path("listening/", views.listening, name="listening"),
    path("listening/run/", views.listening_run, name="listening_run"),
    path("listening/topics/<int:pk>/", views.topic_detail, name="topic_detail"),
    path("listening/topics/<int:pk>/name/", views.topic_rename, name="topic_rename"),
    path("listening/trend/", views.topic_drill, name="topic_drill"),
    path("listening/suggestions/", views.suggestions, name="suggestions"),
    path("listening/suggestions/<int:ticket_pk>/", views.suggestion_decide, name="suggestion_decide"),
    path("feed/", feed_page.feed_analytics_page, name="feed"),
    path("performance/", performance.nba_performance, name="nba_performance"),
    path("<slug:key>/", views.dashboard, name="dashboard"),
    path("<slug:key>/<str:chart_key>/csv/", views.chart_csv_view, name="chart_csv"),
    path("<slug:key>/<str:chart_key>/drill/", views.drill, name="drill"),
]
