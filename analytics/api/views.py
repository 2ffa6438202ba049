"""Read-only API: the data behind each chart (same filters and permission as the pages) and topics."""

from __future__ import annotations

from django.http import Http404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, viewsets
from rest_framework.response import Response
from rest_framework.views import APIView

from analytics.dashboards import dashboards
from analytics.dashboards.charts import number
from analytics.dashboards.filters import inverted_range, parse_filters
from analytics.models import Topic
from customer360.api.permissions import ManagerOrAdmin
from customer360.api.tokens import TokenScopePermission


class SeriesSerializer(serializers.Serializer):
    key = serializers.CharField()
    name = serializers.CharField()
    values = serializers.ListField(child=serializers.FloatField(allow_null=True))


class CategorySerializer(serializers.Serializer):
    bucket = serializers.CharField()
    label = serializers.CharField()


class ChartSerializer(serializers.Serializer):
    key = serializers.CharField()
    title = serializers.CharField()
    start = serializers.DateField()
    end = serializers.DateField()
    categories = CategorySerializer(many=True)
    series = SeriesSerializer(many=True)


FILTER_PARAMETERS = [
    OpenApiParameter("period", OpenApiTypes.STR, enum=["30d", "90d", "12m", "ytd", "custom"]),
    OpenApiParameter("start", OpenApiTypes.DATE),
    OpenApiParameter("end", OpenApiTypes.DATE),
    OpenApiParameter("owner", OpenApiTypes.INT),
    OpenApiParameter("team", OpenApiTypes.STR),
    OpenApiParameter("segment", OpenApiTypes.STR),
    OpenApiParameter("country", OpenApiTypes.STR),
]


class ChartDataView(APIView):
    permission_classes = [TokenScopePermission, ManagerOrAdmin]

    @extend_schema(parameters=FILTER_PARAMETERS, responses={200: ChartSerializer, 400: OpenApiTypes.OBJECT})
    def get(self, request, dashboard: str, chart: str):
        board = dashboards.get(dashboard)
        definition = board.chart(chart) if board else None
        if definition is None:
            raise Http404
        filters, form = parse_filters(request.query_params)
        if inverted_range(form):
            raise serializers.ValidationError({"end": form.errors["end"]})
        data = definition.build(filters)
        payload = {
            "key": data.key,
            "title": data.title,
            "start": filters.start,
            "end": filters.end,
            "categories": [{"bucket": b, "label": label} for b, label in data.categories],
            "series": [
                {"key": s.key, "name": s.name, "values": [None if v is None else number(v) for v in s.values]}
                for s in data.series
            ],
        }
        return Response(ChartSerializer(payload).data)


class TopicSerializer(serializers.ModelSerializer):
    class Meta:
        model = Topic
        fields = ["id", "label", "terms", "messages", "customers", "period_end", "count_current",
                  "count_previous", "share_current", "share_previous", "z_score", "is_rising", "avg_sentiment"]  # fmt: skip


class TopicViewSet(viewsets.ReadOnlyModelViewSet):
    """Topics of the last listening run, rising ones first."""

    queryset = Topic.objects.all()
    serializer_class = TopicSerializer
    permission_classes = [TokenScopePermission, ManagerOrAdmin]
    filterset_fields = ["is_rising"]
