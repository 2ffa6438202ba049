"""Bulk ingestion: REST push with the source's token, and signed webhooks."""

from __future__ import annotations

import json

from django.utils.translation import gettext as _
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.parsers import BaseParser, JSONParser
from rest_framework.response import Response
from rest_framework.views import APIView

from customer360.models import Channel, DataSource
from customer360.sources import services
from customer360.sources.api.authentication import (
    IsSourceWithToken,
    SourceRateThrottle,
    SourceTokenAuthentication,
)

_RESULT = inline_serializer(
    "IngestResult",
    {
        "accepted": serializers.IntegerField(),
        "duplicate": serializers.IntegerField(),
        "rejected": serializers.IntegerField(),
        "results": inline_serializer(
            "IngestRowResult",
            {
                "index": serializers.IntegerField(),
                "status": serializers.ChoiceField(choices=["accepted", "duplicate", "rejected"]),
                "reason": serializers.CharField(),
            },
            many=True,
        ),
    },
)
_RECORDS = inline_serializer(
    "IngestRequest", {"records": serializers.ListField(child=serializers.DictField(), max_length=10000)}
)


def _records_of(data) -> list | None:
    if isinstance(data, list):
        return data
    if isinstance(data, dict):
        if isinstance(data.get("records"), list):
            return data["records"]
        return [data]
    return None


def _summary(results: list[dict]) -> dict:
    counts = dict.fromkeys(("accepted", "duplicate", "rejected"), 0)
    for result in results:
        counts[result["status"]] += 1
    return {**counts, "results": results}


def _too_many(count: int) -> Response:
    return Response(
        {
            "detail": _("Too many records: %(count)s in one request; the limit is %(limit)s.")
            % {"count": count, "limit": services.API_MAX_RECORDS}
        },
        status=status.HTTP_413_REQUEST_ENTITY_TOO_LARGE,
    )


class RecordsView(APIView):
    """POST up to 10,000 records for the source; a result per record."""

    authentication_classes = [SourceTokenAuthentication]
    permission_classes = [IsSourceWithToken]
    throttle_classes = [SourceRateThrottle]
    parser_classes = [JSONParser]

    @extend_schema(request=_RECORDS, responses={200: _RESULT}, summary="Push records into a data source")
    def post(self, request, slug: str):
        records = _records_of(request.data)
        if records is None:
            return Response({"detail": _('Send a JSON list of records or {"records": [...]}.')}, status=400)
        if len(records) > services.API_MAX_RECORDS:
            return _too_many(len(records))
        results = services.records_ingest(source=request.auth, records=records, channel=Channel.API)
        return Response(_summary(results))


class RawBodyParser(BaseParser):
    """Keeps the exact bytes: the signature is computed over the raw body."""

    media_type = "*/*"

    def parse(self, stream, media_type=None, parser_context=None) -> bytes:
        return stream.read() if stream else b""


class WebhookView(APIView):
    """POST signed with X-C360-Timestamp and X-C360-Signature (hex HMAC-SHA256 over
    ``"<timestamp>.<raw body>"`` with the source's secret). Wrong signature: 401, nothing stored;
    a timestamp older than 5 minutes: 401; a replay: 409."""

    authentication_classes: list = []
    permission_classes: list = []
    throttle_classes = [SourceRateThrottle]
    parser_classes = [RawBodyParser]

    @extend_schema(
        request=_RECORDS,
        responses={200: _RESULT},
        summary="Signed webhook into a data source",
        parameters=[
            OpenApiParameter("X-C360-Timestamp", str, OpenApiParameter.HEADER, required=True),
            OpenApiParameter("X-C360-Signature", str, OpenApiParameter.HEADER, required=True),
        ],
    )
    def post(self, request, slug: str):
        body = request.data if isinstance(request.data, bytes) else b""
        source = DataSource.objects.filter(slug=slug, kind=DataSource.Kind.WEBHOOK).first()
        try:
            services.webhook_accept(
                source=source,
                timestamp=request.headers.get("X-C360-Timestamp", ""),
                signature=request.headers.get("X-C360-Signature", ""),
                body=body,
            )
        except services.WebhookRejected as exc:
            return Response({"detail": str(exc)}, status=exc.status)
        try:
            records = _records_of(json.loads(body or b"null"))
        except (ValueError, UnicodeDecodeError):
            records = None
        if records is None:
            return Response(
                {"detail": _("The body must be JSON: a record or a list of records.")}, status=400
            )
        if len(records) > services.API_MAX_RECORDS:
            return _too_many(len(records))
        results = services.records_ingest(source=source, records=records, channel=Channel.OTHER)
        return Response(_summary(results))
