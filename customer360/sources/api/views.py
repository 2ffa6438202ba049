"""Bulk ingestion: REST push with the source's token, and signed webhooks."""

from __future__ import annotations

import json
import logging
import tempfile
from pathlib import Path

from django.conf import settings
from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.files import File
from django.db import transaction
from django.utils.translation import gettext as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import exceptions, serializers, status
from rest_framework.parsers import BaseParser, JSONParser
from rest_framework.response import Response
from rest_framework.views import APIView

from customer360 import bulk
from customer360.models import Channel, DataSource
from customer360.sources import services
from customer360.sources.api.authentication import (
    IsSourceWithToken,
    SourceRateThrottle,
    SourceTokenAuthentication,
    WebhookIPThrottle,
)
from customer360.sources.models import ImportRun

logger = logging.getLogger(__name__)

_RESULT = inline_serializer(
    "IngestResult",
    {
        "accepted": serializers.IntegerField(),
        "duplicate": serializers.IntegerField(),
        "rejected": serializers.IntegerField(),
        "suppressed": serializers.IntegerField(),
        "results": inline_serializer(
            "IngestRowResult",
            {
                "index": serializers.IntegerField(),
                "status": serializers.ChoiceField(
                    choices=["accepted", "duplicate", "rejected", "suppressed"]
                ),
                "reason": serializers.CharField(),
            },
            many=True,
        ),
    },
)
_ERROR = inline_serializer("IngestError", {"detail": serializers.CharField()})
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
    # "suppressed": the record names a person erased on request (the reason names the request).
    counts = dict.fromkeys(("accepted", "duplicate", "rejected", "suppressed"), 0)
    for result in results:
        counts[result["status"]] += 1
    return {**counts, "results": results}


class PayloadTooLarge(exceptions.APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_code = "payload_too_large"


class LengthRequired(exceptions.APIException):
    status_code = status.HTTP_411_LENGTH_REQUIRED
    default_code = "length_required"


def refuse_oversized(request, limit: int | None) -> None:
    """413 from the Content-Length header alone, before a byte of the body is read.

    Django refuses DATA_UPLOAD_MAX_MEMORY_SIZE only when the body is read (and DRF's parsers read the
    stream directly, bypassing it), so the header is checked first. A body without Content-Length
    (chunked) is refused with 411: Django would read it as empty anyway.
    """
    header = request.META.get("CONTENT_LENGTH")
    if not header:
        if request.META.get("HTTP_TRANSFER_ENCODING"):
            raise LengthRequired(_("Send the body with a Content-Length header."))
        return
    try:
        size = int(header)
    except ValueError:
        raise exceptions.ParseError(_("Malformed Content-Length header.")) from None
    if limit is not None and size > limit:
        raise PayloadTooLarge(
            _("The request body is %(size)s bytes; the limit is %(limit)s bytes.")
            % {"size": size, "limit": limit}
        )


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

    @extend_schema(
        request=_RECORDS,
        responses={200: _RESULT, **dict.fromkeys((400, 401, 403, 413, 429), _ERROR)},
        summary="Push records into a data source",
    )
    def post(self, request, slug: str):
        # Django's own limit for request bodies; DRF's JSON parser reads the stream and skips it.
        refuse_oversized(request, settings.DATA_UPLOAD_MAX_MEMORY_SIZE)
        with bulk.gc_paused():  # 10,000 parsed records live until the answer: no collector passes
            records = _records_of(request.data)
            if records is None:
                return Response(
                    {"detail": _('Send a JSON list of records or {"records": [...]}.')}, status=400
                )
            if len(records) > services.API_MAX_RECORDS:
                return _too_many(len(records))
            results = services.records_ingest(source=request.auth, records=records, channel=Channel.API)
            return Response(_summary(results))


class FileView(APIView):
    """POST a CSV or .xlsx export of any size as the raw request body (``?name=export.csv``): it is
    copied to storage in pieces (never held in memory, no upload limit) and imported in chunks with
    the source's saved mapping. 202 with the run, whose page shows the progress and the error file.
    """

    authentication_classes = [SourceTokenAuthentication]
    permission_classes = [IsSourceWithToken]
    throttle_classes = [SourceRateThrottle]
    parser_classes: list = []  # the body is read as a stream below, never parsed

    @extend_schema(
        request={"application/octet-stream": OpenApiTypes.BINARY},
        parameters=[OpenApiParameter("name", str, OpenApiParameter.QUERY, required=False)],
        responses={
            202: inline_serializer(
                "ImportFileAccepted",
                {
                    "run": serializers.IntegerField(),
                    "status": serializers.CharField(),
                    "url": serializers.CharField(),
                },
            ),
            # 400: {"detail": ...}, or {parameter: [message]} for a refused query parameter
            400: OpenApiTypes.OBJECT,
            **dict.fromkeys((401, 403, 411, 429), _ERROR),
        },
        summary="Upload a file of any size into a data source",
    )
    def post(self, request, slug: str):
        refuse_oversized(request, None)  # a body without Content-Length: 411
        source = request.auth
        if not source.mapping.get("fields"):
            return Response(
                {
                    "detail": _(
                        "Map the columns of this source once in the browser; files sent here use that mapping."
                    )
                },
                status=400,
            )
        name = Path(request.query_params.get("name") or "upload.csv").name[-100:] or "upload.csv"
        with tempfile.TemporaryFile() as temp:
            while piece := request._request.read(1 << 20):
                temp.write(piece)
            if not temp.tell():
                return Response(
                    {"detail": _("The request body is empty: send the file as the body.")}, status=400
                )
            temp.seek(0)
            try:
                run = services.run_create(source=source, uploaded=File(temp, name=name))
            except (DjangoValidationError, serializers.ValidationError) as exc:
                return Response({"detail": _refusal_text(exc)}, status=400)
        mapping = {"fields": source.mapping["fields"], "options": dict(source.options)}
        with transaction.atomic():
            services.run_start(run=run, mapping=mapping)
        return Response(
            {"run": run.pk, "status": ImportRun.Status.QUEUED.value, "url": run.get_absolute_url()},
            status=202,
        )


def _refusal_text(exc) -> str:
    """One sentence from a refused file (a bad name, an unreadable file), as the API's errors say."""
    detail = getattr(exc, "messages", None) or getattr(exc, "detail", None) or [str(exc)]
    if isinstance(detail, dict):
        detail = [
            str(m)
            for messages in detail.values()
            for m in (messages if isinstance(messages, list) else [messages])
        ]
    return " ".join(str(m) for m in detail)


class RawBodyParser(BaseParser):
    """Keeps the exact bytes (the signature is computed over the raw body), at most
    ``C360_WEBHOOK_MAX_BYTES`` of them: a bounded read, whatever the headers said."""

    media_type = "*/*"

    def parse(self, stream, media_type=None, parser_context=None) -> bytes:
        if stream is None:
            return b""
        limit = services.webhook_max_bytes()
        body = stream.read(limit + 1)
        if len(body) > limit:
            raise PayloadTooLarge(
                _("The request body is larger than the limit of %(limit)s bytes.") % {"limit": limit}
            )
        return body


class WebhookView(APIView):
    """POST signed with X-C360-Timestamp and X-C360-Signature (hex HMAC-SHA256 over
    ``"<timestamp>.<raw body>"`` with the source's secret). Wrong signature: 401, nothing stored;
    a timestamp older than 5 minutes: 401; a replay: 409; a body over the limit: 413; too many
    requests from one IP, or for one source: 429.

    The checks run in this order, each before the next costs anything: the body's size (from
    Content-Length, unread), the rate per client IP, the signature (the body is read, bounded), the
    rate per source (only verified deliveries count, so a stranger who knows the slug cannot block
    the sender), then records and delivery in one transaction (a failed ingest can be retried).
    """

    authentication_classes: list = []
    permission_classes: list = []
    throttle_classes: list = []  # both throttles run in post(), around the signature check
    parser_classes = [RawBodyParser]

    @extend_schema(
        request=_RECORDS,
        responses={200: _RESULT, **dict.fromkeys((400, 401, 409, 411, 413, 429), _ERROR)},
        summary="Signed webhook into a data source",
        parameters=[
            OpenApiParameter("X-C360-Timestamp", str, OpenApiParameter.HEADER, required=True),
            OpenApiParameter("X-C360-Signature", str, OpenApiParameter.HEADER, required=True),
        ],
    )
    def post(self, request, slug: str):
        refuse_oversized(request, services.webhook_max_bytes())
        self._throttle(WebhookIPThrottle(), request)
        source = DataSource.objects.filter(slug=slug, kind=DataSource.Kind.WEBHOOK).first()
        body = request.data if isinstance(request.data, bytes) else b""
        try:
            delivery = services.webhook_verify(
                source=source,
                timestamp=request.headers.get("X-C360-Timestamp", ""),
                signature=request.headers.get("X-C360-Signature", ""),
                body=body,
            )
        except services.WebhookRejected as exc:
            logger.warning(
                "webhook %s refused from %s: %s", slug, WebhookIPThrottle().get_ident(request), exc
            )
            return Response({"detail": str(exc)}, status=exc.status)
        request.auth = delivery.source  # the signature authenticated the source
        self._throttle(SourceRateThrottle(), request)
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
        try:
            results = services.webhook_ingest(delivery=delivery, records=records)
        except services.WebhookRejected as exc:
            return Response({"detail": str(exc)}, status=exc.status)
        return Response(_summary(results))

    def _throttle(self, throttle, request) -> None:
        if not throttle.allow_request(request, self):
            self.throttled(request, throttle.wait())
