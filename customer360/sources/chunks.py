"""Imports as resumable chunked work.

A run is first *prepared* in the worker: the whole file is read once (encoding checked, .xlsx and
UTF-16 copied to a UTF-8 CSV work file), cut into chunks of ``C360_IMPORT_CHUNK_ROWS`` rows by byte
offset, and rows that repeat an earlier identical row are noted (two identical lines stay two
events, wherever the chunk boundaries fall). Then each :func:`step` writes one chunk: the rows, the
chunk's counts and the run's checkpoint and counters commit in ONE transaction while the worker
holds the run's row lock. A worker killed in the middle rolls its chunk back; whoever takes the run
next (a redelivered task, the beat task :func:`reclaim_stalled`, "resume") starts at that chunk.
No row is written twice, none is lost, and the counters are the sum of committed chunks.
"""

from __future__ import annotations

import csv
import hashlib
import io
import logging
import tempfile
import time
from dataclasses import dataclass

from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings
from django.core.files import File
from django.core.files.base import ContentFile
from django.db import OperationalError, transaction
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext as _

from customer360 import bulk
from customer360.audit import history
from customer360.celery import task
from customer360.models import Channel
from customer360.privacy import suppression
from customer360.privacy.suppression import filter_rows
from customer360.sources.fitting import FieldFit
from customer360.sources.mapping import RowError
from customer360.sources.models import ImportChunk, ImportRun
from customer360.sources.plan import MappingPlan
from customer360.sources.reading import (
    NotATable,
    _clean_header,
    decode,
    iter_records,
    iter_xlsx,
    neutralise,
    parse_rows,
    read_head,
)
from customer360.sources.targets import ImportContext, ImportTarget, PreparedRow, RowResult, import_targets

logger = logging.getLogger(__name__)

ACTIVE = (ImportRun.Status.QUEUED, ImportRun.Status.RUNNING)


def chunk_rows() -> int:
    return max(1, int(getattr(settings, "C360_IMPORT_CHUNK_ROWS", 10_000)))


class ChunkMismatch(RuntimeError):
    """The work file changed under a prepared run (its chunk no longer holds the counted rows)."""


# --- Preparing: work file, header, chunk boundaries ------------------------------------------------
@dataclass
class _Layout:
    encoding: str
    delimiter: str
    header: list[str]
    chunks: list[ImportChunk]
    repeats: dict[str, int]
    total: int
    repeated_ids: dict[str, int]


class _WrongEncoding(Exception):
    pass


def prepare(run: ImportRun) -> None:
    """Read the whole file once in the worker and lay out its chunks (called with the run locked)."""
    options = dict(run.mapping.get("options", {}))
    with run.file.open("rb") as handle:
        magic = handle.read(4)
        handle.seek(0)
        if magic.startswith(b"PK\x03\x04"):
            _save_work_copy(run, _xlsx_as_csv(handle))
            options.update(encoding="utf-8", delimiter=",")
        elif magic.startswith((b"\xff\xfe", b"\xfe\xff")):
            _save_work_copy(run, _utf16_as_utf8(handle))
            options["encoding"] = "utf-8"
    with _work_handle(run) as handle:
        head = read_head(handle, encoding=options.get("encoding", ""), delimiter=options.get("delimiter", ""))
    options["encoding"] = options.get("encoding") or head.encoding
    options["delimiter"] = options.get("delimiter") or head.delimiter
    layout = _layout_or_cp1252(run, options)
    ImportChunk.objects.filter(run=run).delete()
    for chunk in layout.chunks:
        chunk.run = run
    ImportChunk.objects.bulk_create(layout.chunks, batch_size=1000)
    options.update(encoding=layout.encoding, delimiter=layout.delimiter)
    mapping = {**run.mapping, "options": options}
    ImportRun.objects.filter(pk=run.pk).update(
        header=layout.header,
        total=layout.total,
        chunk_count=len(layout.chunks),
        repeats=layout.repeats,
        repeated_ids=layout.repeated_ids,
        mapping=mapping,
        prepared_at=timezone.now(),
        heartbeat_at=timezone.now(),
    )
    run.refresh_from_db()


def _layout_or_cp1252(run: ImportRun, options: dict) -> _Layout:
    """The layout; a file that looked like UTF-8 in its head but is not is read as Windows-1252."""
    try:
        return _layout(run, options["encoding"], options["delimiter"])
    except _WrongEncoding:
        if options["encoding"] not in ("utf-8", "utf-8-sig") or run.mapping.get("options", {}).get(
            "encoding"
        ):
            raise NotATable(
                _("The file cannot be read as %(encoding)s after its first part.")
                % {"encoding": options["encoding"]}
            ) from None
        return _layout(run, "cp1252", options["delimiter"])


def _work_handle(run: ImportRun):
    return (run.work_file or run.file).open("rb")


def _decode_block(raw: bytes, encoding: str) -> str:
    try:
        return raw.decode(encoding)
    except UnicodeDecodeError as exc:
        raise _WrongEncoding from exc


def _layout(run: ImportRun, encoding: str, delimiter: str) -> _Layout:
    size, chunks, repeats, seen = chunk_rows(), [], {}, {}
    repeated_ids: dict[str, int] = {}
    first_of: dict = {}
    header: list[str] | None = None
    next_row, block, block_start, offset = 2, [], 0, 0
    ids_of = None

    def close_block(end: int) -> None:
        nonlocal next_row
        rows = parse_rows(_decode_block(b"".join(block), encoding), delimiter)
        for number, row in enumerate(rows, start=next_row):
            key = hash("\x1f".join(row))
            before = seen.get(key, 0)
            seen[key] = before + 1
            if before:
                repeats[str(number)] = before
        for number, record_id in enumerate(ids_of(rows) if ids_of else (), start=next_row):
            if record_id not in (None, ""):
                first = first_of.setdefault(record_id, number)
                if first != number:
                    repeated_ids[str(number)] = first
        if rows:
            chunks.append(
                ImportChunk(
                    index=len(chunks),
                    first_row=next_row,
                    rows=len(rows),
                    start_offset=block_start,
                    end_offset=end,
                )
            )
            next_row += len(rows)

    with _work_handle(run) as handle:
        for offset, raw in iter_records(handle):
            if header is None:
                parsed = parse_rows(_decode_block(raw, encoding), delimiter)
                if parsed:
                    header = _clean_header(parsed[0])
                    ids_of = _record_ids(run, header)
                block_start = offset + len(raw)
                continue
            block.append(raw)
            if len(block) >= size:
                close_block(offset + len(raw))
                block, block_start = [], offset + len(raw)
        if block:
            close_block(block_start + sum(len(r) for r in block))
    if header is None:
        raise NotATable(_("The file is empty."))
    return _Layout(encoding, delimiter, header, chunks, repeats, next_row - 2, repeated_ids)


def _record_ids(run: ImportRun, header: list[str]):
    """``rows -> record id per row`` when the mapping fills the target's id field (event id,
    external id...), else None: a line repeating an earlier line's id is a duplicate, also when
    the two lines fall into different chunks."""
    target = import_targets.get(run.source.target)
    if target is None:
        return None
    name = target.api_id_field
    entries = [e for e in run.mapping.get("fields", []) if e.get("field") == name]
    if not entries:
        return None
    plan = _plan(run, target, header, entries)
    return lambda rows: [values.get(name) for values, _errors in plan.map_rows(rows)]


def _plan(run: ImportRun, target: ImportTarget, header: list[str], entries: list[dict]) -> MappingPlan:
    options = run.mapping.get("options", {})
    region, locale = options.get("region", "AT"), options.get("locale", run.source.locale)
    return MappingPlan(header, entries, target.field_types(), region=region, locale=locale)


def _save_work_copy(run: ImportRun, temp) -> None:
    temp.seek(0)
    run.work_file.save(f"work-run-{run.pk}.csv", File(temp), save=False)
    temp.close()
    ImportRun.objects.filter(pk=run.pk).update(work_file=run.work_file.name)


def _xlsx_as_csv(handle):
    """The workbook's first sheet as a UTF-8 CSV temp file (streamed, within the size caps)."""
    temp = tempfile.TemporaryFile()  # noqa: SIM115 - closed by _save_work_copy
    text = io.TextIOWrapper(temp, encoding="utf-8", newline="", write_through=True)
    writer = csv.writer(text)
    for row in iter_xlsx(handle):
        writer.writerow(row)
    text.detach()
    return temp


def _utf16_as_utf8(handle):
    temp = tempfile.TemporaryFile()  # noqa: SIM115 - closed by _save_work_copy
    source = io.TextIOWrapper(handle, encoding="utf-16", newline="")
    try:
        while piece := source.read(1 << 20):
            temp.write(piece.encode("utf-8"))
    except UnicodeDecodeError as exc:
        raise NotATable(_("The file starts like UTF-16 text but cannot be read as UTF-16.")) from exc
    finally:
        source.detach()
    return temp


# --- One step: claim the run, write one chunk, move the checkpoint ---------------------------------
def step(run_id: int) -> str:
    """Do the run's next piece of work in one transaction: "chunk", "finished" or "busy".

    "busy" means another worker holds the run (it is writing a chunk right now) or the run is not
    active; the caller simply stops, the holder goes on.
    """
    with transaction.atomic():
        run = (
            ImportRun.objects.select_for_update(skip_locked=True, of=("self",))
            .select_related("source")
            .filter(pk=run_id, status__in=ACTIVE)
            .first()
        )
        if run is None:
            return "busy"
        if run.status == ImportRun.Status.QUEUED:
            run.status = ImportRun.Status.RUNNING
            ImportRun.objects.filter(pk=run.pk).update(
                status=run.status, started_at=run.started_at or timezone.now()
            )
        if run.cancel_requested:
            _end(run, ImportRun.Status.CANCELLED)
            return "finished"
        if not run.prepared_at:
            with bulk.gc_paused():
                prepare(run)
            return "chunk"
        chunk = run.chunks.filter(status=ImportChunk.Status.PENDING).order_by("index").first()
        if chunk is None:
            finish(run)
            return "finished"
        write_chunk(run, chunk)
        return "chunk"


def write_chunk(run: ImportRun, chunk: ImportChunk) -> None:
    """Map and write one chunk's rows, then record the chunk and the checkpoint (same transaction)."""
    started, started_at = time.perf_counter(), timezone.now()
    # The chunk and its checkpoint are one transaction: a chunk lost in a crash is simply redone.
    bulk.commit_without_flush_wait()
    target = target_of(run.source)
    # Every row written here has the run in its change history (path "import").
    with (
        history.context(path="import", run=run.pk, source=run.source.slug, user=run.created_by_id),
        bulk.gc_paused(),
    ):
        counts, errors = _import_rows(run, target, chunk, read_chunk(run, chunk))
    seconds = time.perf_counter() - started
    ImportChunk.objects.filter(pk=chunk.pk).update(
        status=ImportChunk.Status.DONE,
        errors=errors,
        started_at=started_at,
        finished_at=timezone.now(),
        seconds=seconds,
        **counts,
    )
    ImportRun.objects.filter(pk=run.pk).update(
        done=F("done") + chunk.rows,
        chunks_done=F("chunks_done") + 1,
        next_row=chunk.first_row + chunk.rows,
        next_offset=chunk.end_offset,
        heartbeat_at=timezone.now(),
        seconds=F("seconds") + seconds,
        **{name: F(name) + value for name, value in counts.items() if value},
    )


def read_chunk(run: ImportRun, chunk: ImportChunk) -> list[list[str]]:
    options = run.mapping.get("options", {})
    with _work_handle(run) as handle:
        handle.seek(chunk.start_offset)
        raw = handle.read(chunk.end_offset - chunk.start_offset)
    rows = parse_rows(decode(raw, options.get("encoding", ""))[0], options.get("delimiter", ","))
    if len(rows) != chunk.rows:
        raise ChunkMismatch(f"chunk {chunk.index} holds {len(rows)} rows, {chunk.rows} were counted")
    return rows


def required_errors(target: ImportTarget, mapping: dict, values: dict) -> list[RowError]:
    mapped = {e.get("field") for e in mapping.get("fields", [])}
    errors = []
    for target_field in target.fields:
        if target_field.required and values.get(target_field.name) in (None, ""):
            column = next(
                (
                    e.get("column", "")
                    for e in mapping.get("fields", [])
                    if e.get("field") == target_field.name
                ),
                "",
            )
            message = (
                _("is empty, but %(field)s is required")
                if target_field.name in mapped
                else _("is not mapped")
            ) % {"field": target_field.label}
            errors.append(RowError(column or str(target_field.label), "", message))
    return errors


def target_of(source) -> ImportTarget:
    target = import_targets.get(source.target)
    if target is None:
        raise NotATable(_("The target %(target)s is not available.") % {"target": source.target})
    return target


def _import_rows(run: ImportRun, target: ImportTarget, chunk: ImportChunk, rows: list[list[str]]):
    ctx = ImportContext(source=run.source, actor_id=run.created_by_id, channel=Channel.OTHER)
    counts = dict.fromkeys(ImportRun.COUNTS, 0)
    numbered = list(enumerate(rows, start=chunk.first_row))
    fingerprints = [_fingerprint(row, run.repeats.get(str(number), 0)) for number, row in numbered]
    # A rerun's lines that the target knows already end here, before they are mapped (unless the
    # suppression list must see them: a line of a person erased since then is refused, not unchanged).
    known = set()
    if target.known_rows and suppression.is_empty():
        known = target.known_rows(fingerprints, ctx, run.mapping)
    if known:
        counts["unchanged"] = len(known)
        numbered = [item for index, item in enumerate(numbered) if index not in known]
        fingerprints = [item for index, item in enumerate(fingerprints) if index not in known]
    prepared, errors = _prepared(run, target, numbered, fingerprints)
    counts["failed"] = len(errors)
    # The chunk is the transaction; its rows go to the target in one call (fewer lookups and COPYs).
    results = _write_unsuppressed(target, prepared, ctx) if prepared else []
    for item, result in zip(prepared, results, strict=True):
        # A suppressed row (a person erased on request) counts as failed and lands in the error file.
        counts["failed" if result.status == "suppressed" else result.status] += 1
        if result.status in ("failed", "suppressed"):
            errors.append([item.number, list(item.record.values()), result.reason])
    return counts, errors


def _prepared(
    run: ImportRun, target: ImportTarget, numbered: list[tuple[int, list[str]]], fingerprints: list[str]
) -> tuple[list[PreparedRow], list[list]]:
    """The rows mapped (one compiled plan for the chunk), and ``[row, cells, reason]`` of the refused."""
    header = run.header
    plan = _plan(run, target, header, run.mapping.get("fields", []))
    fit = FieldFit(target, run.mapping.get("fields", []))
    required = [f.name for f in target.fields if f.required]
    mapped = plan.map_rows([row for _number, row in numbered])
    prepared, errors, width = [], [], len(header)
    for (number, row), (values, problems), fingerprint in zip(numbered, mapped, fingerprints, strict=True):
        for name in required:
            if values.get(name) in (None, ""):
                problems = [*problems, *required_errors(target, run.mapping, values)]
                break
        if not problems:
            problems = fit.errors(values)
        if problems:
            errors.append([number, row, "; ".join(str(e) for e in problems)])
            continue
        cells = row + [""] * (width - len(row)) if len(row) < width else row
        record = dict(zip(header, cells, strict=False))
        prepared.append(
            PreparedRow(number, values, record, fingerprint, run.repeated_ids.get(str(number), 0))
        )
    return prepared, errors


def _write_unsuppressed(
    target: ImportTarget, batch: list[PreparedRow], ctx: ImportContext
) -> list[RowResult]:
    """Rows of erased people are refused by the suppression list; the others go to the target."""
    allowed, refused = filter_rows(batch, source_slug=ctx.source.slug)
    written = iter(target.write_rows(allowed, ctx) if allowed else [])
    return [
        RowResult("suppressed", refused[position]) if position in refused else next(written)
        for position in range(len(batch))
    ]


def _fingerprint(row: list[str], occurrence: int) -> str:
    """A content hash per row plus how many identical rows came before: the same file gives the
    same keys, and two identical lines stay two events."""
    digest = hashlib.sha1("\x1f".join(row).encode(), usedforsecurity=False).hexdigest()[:20]
    return f"{digest}:{occurrence}"


# --- End of a run -----------------------------------------------------------------------------
def finish(run: ImportRun) -> None:
    """All chunks are written: the error file from the chunks' refusals, then "done"."""
    bad = [
        item for errors in run.chunks.order_by("index").values_list("errors", flat=True) for item in errors
    ]
    if bad:
        write_error_file(run, bad)
    _end(run, ImportRun.Status.DONE)
    if run.created or run.updated:  # new customers or new identifiers: new pairs are possible
        transaction.on_commit(
            lambda: task("customer360.sources.tasks.find_duplicates").delay(run.source.slug)
        )


def _end(run: ImportRun, status: str, error: str = "") -> None:
    ImportRun.objects.filter(pk=run.pk).update(
        status=status, error=error, finished_at=timezone.now(), cancel_requested=False
    )
    run.refresh_from_db()
    logger.info("import run %s ended: %s %s", run.pk, status, run.counts)


def write_error_file(run: ImportRun, bad: list[list]) -> None:
    """The refused rows as CSV (original columns + row number + reason), formulas neutralised.

    Fix the rows and upload the file again: the extra columns are ignored by the mapping.
    """
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=run.mapping.get("options", {}).get("delimiter") or ";")
    header = run.header
    writer.writerow([*map(neutralise, header), "c360_row", "c360_errors"])
    for number, cells, reason in sorted(bad, key=lambda item: item[0]):
        cells = (list(cells) + [""] * len(header))[: len(header)]
        writer.writerow([*(neutralise(c) for c in cells), number, neutralise(reason)])
    content = ContentFile(("\ufeff" + buffer.getvalue()).encode("utf-8"))
    run.error_file.save(f"errors-run-{run.pk}.csv", content, save=False)
    ImportRun.objects.filter(pk=run.pk).update(error_file=run.error_file.name)


def fail(run_id: int, exc: BaseException) -> None:
    """Mark the run failed with a reason in plain words; the committed chunks stay, "resume" goes on."""
    run = ImportRun.objects.filter(pk=run_id).first()
    if run is None:
        return
    chunk = run.chunks.filter(status=ImportChunk.Status.PENDING).order_by("index").first()
    where = (chunk.first_row, chunk.last_row) if chunk else (run.next_row, run.next_row)
    ImportRun.objects.filter(pk=run_id, status__in=ACTIVE).update(
        status=ImportRun.Status.FAILED,
        error=failure_text(exc, where)[:2000],
        finished_at=timezone.now(),
        # The file's own faults come back on every attempt: no "resume", a corrected upload instead.
        resumable=not isinstance(exc, NotATable | ChunkMismatch),
    )
    logger.warning("import run %s failed at rows %s-%s: %s", run_id, *where, type(exc).__name__)


def failure_text(exc: BaseException, where: tuple[int, int]) -> str:
    """Why a run stopped, for the admin (stored in English; the page shows it as written)."""
    if isinstance(exc, NotATable):
        return str(exc)
    rows = f"rows {where[0]:,}–{where[1]:,}"
    if isinstance(exc, OperationalError):
        return (
            f"The database could not be reached while {rows} were written; nothing of these rows was "
            "saved, everything before them is. Resume the run when the database is back."
        )
    if isinstance(exc, ChunkMismatch):
        return f"The uploaded file changed while it was imported ({rows}). Upload it again."
    return (
        f"An unexpected error ({type(exc).__name__}) stopped the import at {rows}; the rows before "
        "are saved. Resume the run to try these rows again, or tell the administrator."
    )


# --- Driving: a task's budget, stalled runs, cancel and resume -------------------------------------
def work(run_id: int, *, budget: float | None = None) -> str:
    """Write chunks until the run ends or ``budget`` seconds are used; "handover" means the caller
    must queue a fresh task for the rest (each task stays far inside its time limit)."""
    deadline = time.monotonic() + (budget if budget is not None else _task_seconds())
    while True:
        try:
            outcome = _step_retrying(run_id)
        except SoftTimeLimitExceeded:
            return "handover"  # the chunk rolled back; a fresh task writes it again
        except NotATable as exc:  # the file's fault: the run says why, the worker has nothing to log
            fail(run_id, exc)
            return "failed"
        except Exception as exc:
            fail(run_id, exc)
            raise
        if outcome != "chunk":
            return outcome
        if time.monotonic() > deadline:
            return "handover"


def _task_seconds() -> float:
    return float(getattr(settings, "C360_IMPORT_TASK_SECONDS", 60))


def _step_retrying(run_id: int) -> str:
    """A deadlock between concurrent imports rolls the chunk back; it is simply written again."""
    for attempt in range(4):
        try:
            return step(run_id)
        except OperationalError as exc:
            if "deadlock" not in str(exc).lower() or attempt == 3:
                raise
            time.sleep(0.1 * (attempt + 1))
    return "busy"


def reclaim_stalled(minutes: float | None = None) -> list[int]:
    """Active runs without progress for ``minutes`` whose row is not locked (their worker is gone):
    a new task takes each over at its checkpoint. Returns the ids that were re-queued."""
    minutes = minutes if minutes is not None else float(getattr(settings, "C360_IMPORT_STALLED_MINUTES", 5))
    cutoff = timezone.now() - timezone.timedelta(minutes=minutes)
    stalled = Q(heartbeat_at__lt=cutoff) | Q(heartbeat_at__isnull=True, created_at__lt=cutoff)
    reclaimed = []
    for run_id in ImportRun.objects.filter(stalled, status__in=ACTIVE).values_list("pk", flat=True):
        with transaction.atomic():
            run = ImportRun.objects.select_for_update(skip_locked=True).filter(
                stalled, pk=run_id, status__in=ACTIVE
            )
            if not run.exists():
                continue
            run.update(heartbeat_at=timezone.now(), reclaims=F("reclaims") + 1)
            enqueue(run_id)
            reclaimed.append(run_id)
    if reclaimed:
        logger.warning("re-claimed stalled import runs %s", reclaimed)
    return reclaimed


def enqueue(run_id: int) -> None:
    """Queue the run's task after the current transaction commits, on the import queue."""
    queue = getattr(settings, "C360_IMPORT_QUEUE", "default")
    transaction.on_commit(
        lambda: task("customer360.sources.tasks.run_import").apply_async(args=[run_id], queue=queue)
    )


def request_cancel(run: ImportRun) -> bool:
    """Ask an active run to stop at its next chunk (the worker says "cancelled after N rows")."""
    changed = ImportRun.objects.filter(pk=run.pk, status__in=ACTIVE).update(cancel_requested=True)
    if changed:
        enqueue(run.pk)  # a run whose worker is gone is cancelled all the same
    return bool(changed)


def resume(run: ImportRun) -> bool:
    """A failed or cancelled run goes on at its checkpoint."""
    changed = ImportRun.objects.filter(
        pk=run.pk, status__in=(ImportRun.Status.FAILED, ImportRun.Status.CANCELLED), resumable=True
    ).update(
        status=ImportRun.Status.QUEUED,
        error="",
        cancel_requested=False,
        finished_at=None,
        heartbeat_at=timezone.now(),
    )
    if changed:
        enqueue(run.pk)
    return bool(changed)


__all__ = ["enqueue", "prepare", "reclaim_stalled", "request_cancel", "resume", "step", "work"]
