"""Workflows of data sources: tokens and secrets, uploads, previews, import runs, bulk ingestion.

Every write goes through ``customer360.timeline`` (events) and ``sources.identity`` (customers and
their identifiers); both are idempotent, so a rerun or a retried request changes nothing.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, OperationalError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from customer360 import bulk
from customer360.audit import history
from customer360.models import Channel, DataSource
from customer360.sources import chunks, identity
from customer360.sources.checking import KEY_SAMPLE_ROWS, FileCheck, file_check, suggest_key
from customer360.sources.chunks import required_errors
from customer360.sources.fitting import FieldFit
from customer360.sources.mapping import RowError, apply_mapping
from customer360.sources.models import ImportRun, WebhookDelivery
from customer360.sources.plan import MappingPlan
from customer360.sources.reading import NotATable, Table, read_head
from customer360.sources.targets import (
    ImportContext,
    ImportTarget,
    PreparedRow,
    RowResult,
    import_targets,
)

logger = logging.getLogger(__name__)

DEFAULT_MAX_BYTES = 50 * 1024 * 1024
DEFAULT_BATCH = 2000
API_MAX_RECORDS = 10_000
WEBHOOK_TOLERANCE_SECONDS = 300
DEFAULT_WEBHOOK_MAX_BYTES = 10 * 1024 * 1024
PREVIEW_ROWS = 20


def max_upload_bytes() -> int:
    return int(getattr(settings, "C360_IMPORT_MAX_BYTES", DEFAULT_MAX_BYTES))


#: a file this share of a limit or more gets a warning (the next export may not fit)
WARN_SHARE = 0.8


def upload_size_warning(size: int) -> str:
    """A warning when ``size`` is 80 % of the browser upload limit or more, with the ways around it."""
    limit = max_upload_bytes()
    if not limit or size < WARN_SHARE * limit:
        return ""
    return _(
        "This file is %(share)s%% of the upload limit of %(limit)s MB. A larger export will not upload "
        "here: import it with the command line (manage.py import_file) or the file API, which take "
        "files of any size."
    ) % {"share": round(100 * size / limit), "limit": round(limit / 1048576, 1)}


def batch_size() -> int:
    return int(getattr(settings, "C360_IMPORT_BATCH_SIZE", DEFAULT_BATCH))


# --- Tokens and secrets -----------------------------------------------------------------------
def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def source_issue_token(*, source: DataSource) -> str:
    """A new REST token for ``source``; only its SHA-256 is stored, so show the return value once.

    Issuing a new token revokes the previous one.
    """
    token = f"c360_{secrets.token_urlsafe(32)}"
    source.token_hash = hash_token(token)
    source.token_hint = token[:9]
    source.token_created_at = timezone.now()
    source.save(update_fields=["token_hash", "token_hint", "token_created_at"])
    return token


def source_revoke_token(*, source: DataSource) -> None:
    """The source's token stops working at once."""
    source.token_hash = ""
    source.token_hint = ""
    source.token_created_at = None
    source.save(update_fields=["token_hash", "token_hint", "token_created_at"])


def source_for_token(token: str) -> DataSource | None:
    if not token:
        return None
    return DataSource.objects.filter(token_hash=hash_token(token), is_active=True).first()


def source_issue_webhook_secret(*, source: DataSource) -> str:
    """A new HMAC secret. It is kept as is (verifying needs it) but shown only this once."""
    secret = secrets.token_hex(32)
    source.webhook_secret = secret
    source.save(update_fields=["webhook_secret"])
    return secret


def webhook_signature(secret: str, timestamp: str, body: bytes) -> str:
    """Hex HMAC-SHA256 over ``"<timestamp>.<raw body>"`` (what senders must compute)."""
    message = timestamp.encode() + b"." + body
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


class WebhookRejected(Exception):
    def __init__(self, message: str, status: int = 401):
        super().__init__(message)
        self.status = status


def webhook_max_bytes() -> int:
    """The largest webhook body; a larger Content-Length is refused before the body is read."""
    return int(getattr(settings, "C360_WEBHOOK_MAX_BYTES", DEFAULT_WEBHOOK_MAX_BYTES))


def webhook_verify(
    *, source: DataSource | None, timestamp: str, signature: str, body: bytes
) -> WebhookDelivery:
    """Check a webhook call's source, timestamp and signature; raise :class:`WebhookRejected` otherwise.

    Returns the delivery, not yet saved: :func:`webhook_ingest` stores it together with its records.
    """
    if source is None or not source.is_active or not source.webhook_secret:
        raise WebhookRejected(_("Unknown or inactive webhook source."))
    try:
        sent_at = int(timestamp)
    except (TypeError, ValueError):
        raise WebhookRejected(_("Missing or malformed X-C360-Timestamp header.")) from None
    if abs(time.time() - sent_at) > WEBHOOK_TOLERANCE_SECONDS:
        raise WebhookRejected(_("The timestamp is outside the allowed 5 minutes."))
    signature = (signature or "").removeprefix("sha256=").strip().lower()
    expected = webhook_signature(source.webhook_secret, timestamp, body)
    if not signature or not hmac.compare_digest(signature, expected):
        raise WebhookRejected(_("The signature does not match."))
    return WebhookDelivery(source=source, signature=signature, timestamp=sent_at)


def webhook_ingest(*, delivery: WebhookDelivery, records: list) -> list[dict]:
    """Write a verified delivery's records and remember the delivery, in one transaction.

    A failed ingest rolls the delivery back with the records, so the sender's retry is accepted; a
    replay of a delivery that went through raises :class:`WebhookRejected` (409) and writes nothing.
    The replay guard is the unique (source, signature) row: on PostgreSQL a concurrent second copy
    waits on it until the first commits (then 409) or rolls back (then it goes through).
    """
    with transaction.atomic():
        try:
            with transaction.atomic():
                delivery.save(force_insert=True)
        except IntegrityError:
            raise WebhookRejected(_("This request was already delivered (replay)."), status=409) from None
        results = records_ingest(source=delivery.source, records=records, channel=Channel.OTHER)
    cutoff = timezone.now() - timezone.timedelta(seconds=4 * WEBHOOK_TOLERANCE_SECONDS)
    WebhookDelivery.objects.filter(source=delivery.source, received_at__lt=cutoff).delete()
    return results


# --- Identity across sources ---------------------------------------------------------------------
def source_id_columns(source: DataSource) -> list[tuple[str, str]]:
    """``(column, slug of the source whose customer id it holds)`` as the mapping declares them."""
    prefix = f"{identity.IDS_GROUP}."
    return [
        (entry.get("column", ""), entry["field"][len(prefix) :])
        for entry in source.mapping.get("fields", [])
        if str(entry.get("field", "")).startswith(prefix) and entry.get("column")
    ]


def source_identity_set(
    *, source: DataSource, shares_ids_with: DataSource | None, id_columns: list[tuple[str, str]]
) -> None:
    """Declare how the source's keys relate to others: its customer ids ARE ``shares_ids_with``'s,
    and each ``(column, slug)`` holds that source's customer id (a mapping entry ``ids.<slug>``, so
    the mapping screen shows it too). Ids the source imported before move to the shared namespace
    in the worker; where that source knows the id for another customer, the pair goes to the queue."""
    if shares_ids_with is not None:
        owner, seen = shares_ids_with, {source.pk}
        while owner is not None:
            if owner.pk in seen:
                raise ValidationError(_("These sources would share their ids in a circle."))
            seen.add(owner.pk)
            owner = owner.shares_ids_with
    known = set(DataSource.objects.exclude(pk=source.pk).values_list("slug", flat=True))
    prefix = f"{identity.IDS_GROUP}."
    fields = [e for e in source.mapping.get("fields", []) if not str(e.get("field", "")).startswith(prefix)]
    fields += [{"field": f"{prefix}{slug}", "column": column} for column, slug in id_columns if slug in known]
    changed = source.shares_ids_with_id != (shares_ids_with.pk if shares_ids_with else None)
    source.shares_ids_with = shares_ids_with
    source.mapping = {**source.mapping, "fields": fields}
    source.save(update_fields=["shares_ids_with", "mapping"])
    identity.id_namespaces(fresh=True)
    if changed and shares_ids_with is not None:
        from customer360.celery import task

        # by name: the tasks module imports the services (through the file check), not the other way
        transaction.on_commit(task("customer360.sources.tasks.rekey_identities").delay)


# --- Uploads, preview, runs ---------------------------------------------------------------------
class UploadTooLarge(ValueError):
    pass


def run_create(*, source: DataSource, uploaded, user=None, max_bytes: int | None = None) -> ImportRun:
    """Store a file as a run waiting for its mapping (copied to storage in pieces, whatever its size).

    ``max_bytes`` is the browser upload's limit (:func:`max_upload_bytes`); the command line and
    the file API pass none: a file of any size streams to storage and is imported in chunks.
    """
    if max_bytes is not None and uploaded.size > max_bytes:
        raise UploadTooLarge(
            _("The file is %(size)s MB; the limit is %(limit)s MB.")
            % {"size": round(uploaded.size / 1048576, 1), "limit": round(max_bytes / 1048576, 1)}
        )
    run = ImportRun(
        source=source,
        file_name=uploaded.name[:255],
        file_size=uploaded.size,
        created_by=user if getattr(user, "is_authenticated", False) else None,
        mapping={"fields": list(source.mapping.get("fields", [])), "options": dict(source.options)},
    )
    run.file.save(f"run-{source.slug}-{secrets.token_hex(4)}-{uploaded.name[-80:]}", uploaded, save=False)
    run.save()
    return run


def run_table(run: ImportRun, options: dict | None = None) -> Table:
    """The head of the run's file (header and the first rows) with the given (or saved) options.

    Only a bounded head is read, so the mapping page and the preview cost the same for 50 KB and
    50 MB; the worker reads and checks the whole file (see ``chunks.prepare``).
    """
    options = options if options is not None else run.mapping.get("options", {})
    with run.file.open("rb") as handle:
        return read_head(handle, encoding=options.get("encoding", ""), delimiter=options.get("delimiter", ""))


def _target_of(source: DataSource) -> ImportTarget:
    target = import_targets.get(source.target)
    if target is None:
        raise NotATable(_("The target %(target)s is not available.") % {"target": source.target})
    return target


@dataclass
class PreviewRow:
    number: int
    record: dict
    values: dict
    errors: list[RowError] = field(default_factory=list)
    cells: list = field(default_factory=list)


def run_preview(
    *, run: ImportRun, mapping: dict, limit: int = PREVIEW_ROWS
) -> tuple[Table, list[PreviewRow]]:
    """The first rows with their mapped values and errors; nothing is written."""
    table = run_table(run, mapping.get("options", {}))
    target = _target_of(run.source)
    types = target.field_types()
    region = mapping.get("options", {}).get("region", "AT")
    locale = run.source.locale
    fit = FieldFit(target, mapping.get("fields", []))
    rows = []
    for number, record in table.records():
        values, errors = apply_mapping(record, mapping.get("fields", []), types, region=region, locale=locale)
        errors.extend(required_errors(target, mapping, values))
        if not errors:
            errors = fit.errors(values)
        rows.append(PreviewRow(number, record, values, errors))
        if len(rows) >= limit:
            break
    return table, rows


def run_check(
    *, run: ImportRun, mapping: dict, progress: Callable[[int, int], None] | None = None
) -> FileCheck:
    """The whole file mapped and checked as the run will do it (see :mod:`.checking`); nothing is
    written. The worker's job (:mod:`.file_checks`); ``progress`` as :func:`.checking.file_check`."""
    with run.file.open("rb") as handle:
        return file_check(
            handle=handle,
            options=mapping.get("options", {}),
            mapping=checked_mapping(run, mapping),
            target=_target_of(run.source),
            size=run.file_size,
            progress=progress,
        )


def checked_mapping(run: ImportRun, mapping: dict) -> dict:
    """The mapping as the run applies it: with the source's locale unless the mapping names one."""
    options = mapping.get("options", {})
    return {**mapping, "options": {**options, "locale": options.get("locale", run.source.locale)}}


def run_key_suggestion(*, run: ImportRun, options: dict) -> list[str]:
    """The columns that identify a row, suggested from the first rows of the file."""
    with run.file.open("rb") as handle:
        table = read_head(
            handle,
            encoding=options.get("encoding", ""),
            delimiter=options.get("delimiter", ""),
            rows=KEY_SAMPLE_ROWS,
            head_bytes=4 * 1024 * 1024,
        )
    return suggest_key(table.header, table.rows)


def run_start(*, run: ImportRun, mapping: dict, user=None) -> None:
    """Save the mapping on the source (reused next time), queue the run, start the task after commit."""
    source = run.source
    source.mapping = {"fields": mapping.get("fields", [])}
    source.options = mapping.get("options", {})
    source.save(update_fields=["mapping", "options"])
    mapping = {**mapping, "options": {**mapping.get("options", {}), "locale": source.locale}}
    ImportRun.objects.filter(pk=run.pk).update(
        mapping=mapping,
        status=ImportRun.Status.QUEUED,
        error="",
        done=0,
        total=0,
        heartbeat_at=timezone.now(),
    )
    chunks.enqueue(run.pk)


def run_execute(*, run: ImportRun) -> ImportRun:
    """Import the whole run here and now, chunk by chunk (benchmarks and tests; workers use tasks)."""
    if run.status not in (ImportRun.Status.QUEUED, ImportRun.Status.RUNNING):
        ImportRun.objects.filter(pk=run.pk).update(status=ImportRun.Status.QUEUED)
    while chunks.work(run.pk, budget=3600) == "handover":
        continue
    run.refresh_from_db()
    return run


def _write_batch(target: ImportTarget, rows: list[PreparedRow], ctx: ImportContext) -> list[RowResult]:
    """One batch: rows of erased people are refused (the suppression list), the others are
    written in one transaction."""
    from customer360.privacy.suppression import filter_rows

    allowed, refused = filter_rows(rows, source_slug=ctx.source.slug)
    if not refused:
        return _write_allowed(target, rows, ctx)
    written = iter(_write_allowed(target, allowed, ctx) if allowed else [])
    return [
        RowResult("suppressed", refused[position]) if position in refused else next(written)
        for position in range(len(rows))
    ]


def _write_allowed(target: ImportTarget, rows: list[PreparedRow], ctx: ImportContext) -> list[RowResult]:
    """One batch in one transaction; a deadlock between concurrent imports is retried."""
    for attempt in range(4):
        seen_before = set(ctx.seen)
        try:
            with transaction.atomic():
                return target.write_rows(rows, ctx)
        except OperationalError as exc:
            ctx.seen = seen_before
            if "deadlock" not in str(exc).lower() or attempt == 3:
                raise
            time.sleep(0.05 * (attempt + 1))
    return []


# --- Bulk ingestion (REST push and webhooks) ---------------------------------------------------
API_STATUS = {
    "created": "accepted",
    "updated": "accepted",
    "unchanged": "duplicate",
    "duplicate": "duplicate",
    "failed": "rejected",
    "suppressed": "suppressed",
}


def _flatten(record: dict) -> tuple[dict[str, str], dict, dict, list[str]]:
    """Plain fields as text for coercion; payload and attributes kept as JSON values."""
    flat: dict[str, str] = {}
    unknown: list[str] = []
    payload = record.get("payload") or {}
    attributes = record.get("attributes") or {}
    for key, value in record.items():
        if key in _JSON_FIELDS:
            continue
        if type(value) is str:  # most values of most records: no conversion
            flat[key] = value
        elif isinstance(value, dict | list):
            unknown.append(key)
        elif value is None:
            flat[key] = ""
        elif isinstance(value, bool):
            flat[key] = "yes" if value else "no"
        else:
            flat[key] = str(value)
    return flat, payload, attributes, unknown


_JSON_FIELDS = ("payload", "attributes")


def records_ingest(*, source: DataSource, records: Iterable, channel: str = Channel.API) -> list[dict]:
    """Write API/webhook records (dicts named by the target's fields); one result per record.

    Idempotent by (source, external id): the target's id field is required. Good records commit
    in batches through the same bulk write path as file imports.
    """
    with history.context(source=source.slug), bulk.gc_paused():
        return _records_ingest(source, records, channel)


def _records_ingest(source: DataSource, records: Iterable, channel: str) -> list[dict]:
    target = _target_of(source)
    results: list[dict | None] = []  # None: on its way to the target, which decides
    # Records of one client mostly share their fields: each set of fields is one compiled mapping,
    # applied column by column to all its records (and checked for unknown names once).
    groups: dict[tuple[str, ...], list[tuple[int, dict, dict, dict]]] = {}
    strangers: dict[tuple[str, ...], list[str]] = {}
    names = target.field_names()
    for index, record in enumerate(records):
        if not isinstance(record, dict):
            results.append({"index": index, "status": "rejected", "reason": _("A record must be an object.")})
            continue
        flat, payload, attributes, unknown = _flatten(record)
        fields = tuple(flat)
        if (not_ours := strangers.get(fields)) is None:
            not_ours = strangers[fields] = [k for k in fields if k not in names]
        unknown += not_ours
        if not isinstance(payload, dict) or not isinstance(attributes, dict):
            unknown.append("payload" if not isinstance(payload, dict) else "attributes")
        if unknown:
            reason = _("Unknown field(s): %(fields)s") % {"fields": ", ".join(sorted(unknown))}
            results.append({"index": index, "status": "rejected", "reason": reason})
            continue
        results.append(None)
        groups.setdefault(fields, []).append((index, flat, payload, attributes))
    prepared = [
        row for fields, items in groups.items() for row in _mapped_records(target, fields, items, results)
    ]
    if len(groups) > 1:
        prepared.sort(key=lambda row: row.number)
    ctx = ImportContext(source=source, channel=channel)
    size = batch_size() * 5
    for start in range(0, len(prepared), size):
        chunk = prepared[start : start + size]
        for row, result in zip(chunk, _write_batch(target, chunk, ctx), strict=True):
            results[row.number] = {
                "index": row.number,
                "status": API_STATUS[result.status],
                "reason": result.reason,
            }
    return results


def _mapped_records(
    target: ImportTarget, fields: tuple[str, ...], items: list[tuple[int, dict, dict, dict]], results: list
) -> list[PreparedRow]:
    """The records that share ``fields``, typed by one plan; refused ones get their reason in ``results``."""
    plan = MappingPlan(fields, [{"field": k, "column": k} for k in fields], target.field_types())
    # ``fields`` is the order of each record's own keys (see _records_ingest): its values line up.
    mapped = plan.map_rows([list(flat.values()) for _index, flat, _payload, _attributes in items])
    required = [f.name for f in target.fields if f.required]
    fit = FieldFit(target, [{"field": k, "column": k} for k in fields])
    prepared = []
    for (index, flat, payload, attributes), (values, errors) in zip(items, mapped, strict=True):
        missing = [name for name in required if values.get(name) in (None, "")]
        if not values.get(target.api_id_field):
            missing.append(target.api_id_field)
        if missing:
            errors = [*errors, RowError(", ".join(missing), "", _("is required"))]
        if not errors:
            errors = fit.errors(values)
        if errors:
            results[index] = {"index": index, "status": "rejected", "reason": "; ".join(map(str, errors))}
            continue
        if payload:
            values["payload"] = payload
        if attributes:
            values["attributes"] = attributes
        prepared.append(PreparedRow(index, values, flat))
    return prepared
