"""Screens of data sources: sources, uploads, mapping with preview, runs, duplicates, merges."""

from __future__ import annotations

import json

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.db import transaction
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from customer360 import access
from customer360.audit.access import Action, record_access
from customer360.models import Customer, DataSource
from customer360.sources import chunks, duplicates, file_checks, services, undo
from customer360.sources.forms import (
    CONSTANT_SLOTS,
    DataSourceForm,
    SourceIdentityForm,
    UploadForm,
    column_rows,
    field_options,
    mapping_from_post,
)
from customer360.sources.mapping import TYPES, suggest
from customer360.sources.merging import MERGE_FIELDS, customer_merge, merge_undo
from customer360.sources.models import CustomerMerge, DuplicateCandidate, ImportRun
from customer360.sources.reading import DELIMITERS, NotATable
from customer360.sources.targets import import_targets
from customer360.text import whole_number

_SECRET_SESSION_KEY = "c360_sources_secret_once"


def _may_view(request):
    access.require(request.user, "customer360.view_datasource")


def _may_change(request):
    access.require(request.user, "customer360.change_datasource")


def source_list(request: HttpRequest) -> HttpResponse:
    _may_view(request)
    sources = DataSource.objects.exclude(kind=DataSource.Kind.DEMO).order_by("name")
    latest = {}
    for run in ImportRun.objects.filter(source__in=sources).order_by("source_id", "-created_at", "-id"):
        latest.setdefault(run.source_id, run)
    targets = dict(import_targets.choices())
    rows = [
        {"source": s, "latest": latest.get(s.pk), "target": targets.get(s.target, s.target)} for s in sources
    ]
    open_duplicates = DuplicateCandidate.objects.filter(status=DuplicateCandidate.Status.OPEN).count()
    return render(request, "sources/source_list.html", {"rows": rows, "open_duplicates": open_duplicates})


def source_create(request: HttpRequest) -> HttpResponse:
    access.require(request.user, "customer360.add_datasource")
    form = DataSourceForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        source = form.save(commit=False)
        source.created_by = request.user
        source.save()
        _issue_secret_for(request, source)
        messages.success(request, _("Data source %(name)s created.") % {"name": source.name})
        return redirect("sources:source_detail", slug=source.slug)
    return render(request, "sources/source_form.html", {"form": form})


def _issue_secret_for(request: HttpRequest, source: DataSource) -> None:
    """Create the token or the webhook secret and keep it in the session for one display."""
    if source.kind == DataSource.Kind.API:
        request.session[_SECRET_SESSION_KEY] = {
            "slug": source.slug,
            "label": _("API token"),
            "value": services.source_issue_token(source=source),
        }
    elif source.kind == DataSource.Kind.WEBHOOK:
        request.session[_SECRET_SESSION_KEY] = {
            "slug": source.slug,
            "label": _("Webhook secret"),
            "value": services.source_issue_webhook_secret(source=source),
        }


def source_detail(request: HttpRequest, slug: str) -> HttpResponse:
    _may_view(request)
    source = get_object_or_404(DataSource.objects.select_related("shares_ids_with"), slug=slug)
    secret = request.session.pop(_SECRET_SESSION_KEY, None)
    if secret and secret.get("slug") != source.slug:
        secret = None
    runs = list(source.runs.select_related("created_by")[:20])
    names = dict(DataSource.objects.values_list("slug", "name"))
    context = {
        "source": source,
        "secret": secret,
        "runs": runs,
        "upload_form": UploadForm(),
        "target": import_targets.get(source.target),
        "max_mb": round(services.max_upload_bytes() / 1048576, 1),
        # the latest upload was close to the limit: the next export of that system may not fit
        "size_warning": services.upload_size_warning(runs[0].file_size) if runs else "",
        "api_url": request.build_absolute_uri(f"/api/sources/{source.slug}/records"),
        "webhook_url": request.build_absolute_uri(f"/api/sources/{source.slug}/webhook"),
        "can_change": request.user.has_perm("customer360.change_datasource"),
        "identity_form": SourceIdentityForm(source=source, id_columns=services.source_id_columns(source)),
        "id_columns": [
            (column, names.get(slug, slug)) for column, slug in services.source_id_columns(source)
        ],
    }
    return render(request, "sources/source_detail.html", context)


@require_POST
def source_identity(request: HttpRequest, slug: str) -> HttpResponse:
    """Declare how the source's customer ids relate to other sources'."""
    _may_change(request)
    source = get_object_or_404(DataSource, slug=slug)
    form = SourceIdentityForm(request.POST, source=source, id_columns=services.source_id_columns(source))
    if not form.is_valid():
        messages.error(
            request, _("The identity settings were not saved: %(errors)s") % {"errors": form.errors.as_text()}
        )
        return redirect("sources:source_detail", slug=source.slug)
    try:
        with transaction.atomic():
            services.source_identity_set(
                source=source,
                shares_ids_with=form.cleaned_data["shares_ids_with"],
                id_columns=form.id_columns(),
            )
    except ValidationError as exc:
        messages.error(request, "; ".join(exc.messages))
        return redirect("sources:source_detail", slug=source.slug)
    messages.success(
        request,
        _("Saved: rows of %(name)s now find customers of the sources declared.") % {"name": source.name},
    )
    return redirect("sources:source_detail", slug=source.slug)


@require_POST
def source_credentials(request: HttpRequest, slug: str) -> HttpResponse:
    """Rotate or revoke the API token, or issue a new webhook secret."""
    _may_change(request)
    source = get_object_or_404(DataSource, slug=slug)
    action = request.POST.get("action")
    if action == "revoke":
        services.source_revoke_token(source=source)
        messages.success(request, _("The API token was revoked; requests with it now get 401."))
    elif action == "rotate":
        request.session[_SECRET_SESSION_KEY] = {
            "slug": source.slug,
            "label": _("API token"),
            "value": services.source_issue_token(source=source),
        }
    elif action == "secret":
        request.session[_SECRET_SESSION_KEY] = {
            "slug": source.slug,
            "label": _("Webhook secret"),
            "value": services.source_issue_webhook_secret(source=source),
        }
    return redirect("sources:source_detail", slug=source.slug)


def run_upload(request: HttpRequest, slug: str) -> HttpResponse:
    _may_change(request)
    source = get_object_or_404(DataSource, slug=slug)
    limit = services.max_upload_bytes()
    too_large = _("The file is larger than the limit of %(limit)s MB. Split it or ask the administrator.") % {
        "limit": round(limit / 1048576, 1)
    }
    # Refuse before Django reads the body, so a huge upload costs nothing.
    if int(request.META.get("CONTENT_LENGTH") or 0) > limit + 65536:
        return render(
            request, "sources/upload_error.html", {"source": source, "message": too_large}, status=413
        )
    if request.method != "POST":
        return redirect("sources:source_detail", slug=slug)
    form = UploadForm(request.POST, request.FILES)
    if not form.is_valid():
        return render(
            request,
            "sources/upload_error.html",
            {"source": source, "message": _("Choose a file to upload.")},
            status=400,
        )
    try:
        run = services.run_create(
            source=source, uploaded=form.cleaned_data["file"], user=request.user, max_bytes=limit
        )
    except services.UploadTooLarge:
        return render(
            request, "sources/upload_error.html", {"source": source, "message": too_large}, status=413
        )
    return redirect("sources:run_mapping", pk=run.pk)


def run_mapping(request: HttpRequest, pk: int) -> HttpResponse:
    """Map columns to fields, preview the first rows, then run."""
    _may_change(request)
    run = get_object_or_404(ImportRun.objects.select_related("source"), pk=pk)
    source = run.source
    target = import_targets.get(source.target)
    if target is None:
        raise Http404
    options = run.mapping.get("options", {})
    if request.method == "POST":
        options = {k: request.POST.get(k, "") for k in ("delimiter", "encoding")}
    try:
        table = services.run_table(run, options)
    except NotATable as exc:
        return render(
            request,
            "sources/upload_error.html",
            {"source": source, "message": str(exc), "run": run},
            status=400,
        )
    if not run.mapping.get("fields"):
        mapping = {"fields": _suggested(table.header, target, run, options)}
    else:
        mapping = run.mapping
    problems: list[str] = []
    preview, check = None, {}
    if request.method == "POST":
        mapping, problems = mapping_from_post(request.POST, table.header, target)
        if not problems and request.POST.get("action") == "run" and run.status == ImportRun.Status.UPLOADED:
            with transaction.atomic():
                services.run_start(run=run, mapping=mapping, user=request.user)
            return redirect("sources:run_detail", pk=run.pk)
        if not problems:
            _table, preview = services.run_preview(run=run, mapping=mapping)
            # the whole file is checked in the worker; the page polls the check's progress
            with transaction.atomic():
                file_checks.run_check_start(run=run, mapping=mapping, user=request.user)
            check = file_checks.run_check_state(run)
            names = _preview_fields(mapping)
            for row in preview:
                row.cells = [(name, _cell(row.values, name)) for name in names]
    context = _mapping_context(run, target, table, mapping, options, problems, preview, check)
    if request.htmx and preview is not None:
        return render(request, "sources/_preview.html", context)
    return render(request, "sources/run_mapping.html", context)


def run_check(request: HttpRequest, pk: int) -> HttpResponse:
    """The whole-file check of the mapping last previewed, polled by htmx every second until it is
    finished (``?job=`` the check the page shows: once the mapping changed, its result is not shown)."""
    _may_change(request)
    run = get_object_or_404(ImportRun.objects.select_related("source"), pk=pk)
    state = file_checks.run_check_state(run, whole_number(request.GET.get("job")))
    return render(request, "sources/_file_check.html", {"run": run, **state})


def _mapping_context(run, target, table, mapping, options, problems, preview, check: dict) -> dict:
    """What the mapping page shows: the columns with their fields, the preview and the whole-file check
    (``check``: the state of the worker's check, :func:`file_checks.run_check_state`)."""
    return {
        "run": run,
        "source": run.source,
        "target": target,
        "table": table,
        "columns": column_rows(
            table.header, mapping, dict(zip(table.header, table.rows[0] if table.rows else [], strict=False))
        ),
        "field_options": field_options(target, run.source),
        "types": list(TYPES.items()),
        "delimiters": list(DELIMITERS.items()),
        "constants": _constant_rows(mapping),
        "advanced": json.dumps({"fields": mapping.get("fields", [])}, indent=1, ensure_ascii=False),
        "problems": problems,
        "preview": preview,
        "preview_fields": _preview_fields(mapping),
        "preview_bad": sum(1 for row in preview or [] if row.errors),
        **check,
        "size_warning": services.upload_size_warning(run.file_size),
        "options": mapping.get("options", options),
    }


def _suggested(header, target, run: ImportRun, options: dict) -> list[dict]:
    """Fields by column name; for targets whose rows are identified by columns, the key suggested
    from the data (unless a column is the id already)."""
    entries = [e for e in suggest(header, target.fields) if e["field"]]
    if target.keyed_rows and any(e["field"] == target.api_id_field for e in entries):
        return entries
    if target.keyed_rows and (key := services.run_key_suggestion(run=run, options=options)):
        entries.append({"field": target.api_id_field, "columns": key, "combine": "key"})
    return entries


def _constant_rows(mapping: dict) -> list[dict]:
    constants = [e for e in mapping.get("fields", []) if "constant" in e]
    rows = [{"slot": i, "field": e.get("field", ""), "value": e["constant"]} for i, e in enumerate(constants)]
    rows += [{"slot": i, "field": "", "value": ""} for i in range(len(rows), CONSTANT_SLOTS)]
    return rows[:CONSTANT_SLOTS]


def _cell(values: dict, name: str) -> str:
    if "." in name:
        group, key = name.split(".", 1)
        value = (values.get(group) or {}).get(key, "")
    else:
        value = values.get(name, "")
    return "" if value is None else str(value)


def _preview_fields(mapping: dict) -> list[str]:
    names = []
    for entry in mapping.get("fields", []):
        name = entry.get("field", "")
        if name and name not in names:
            names.append(name)
    return names


def _progress_context(request: HttpRequest, run: ImportRun) -> dict:
    """The run, its chunks, speed and time left, and whether this user may cancel or resume it."""
    eta = run.eta_seconds
    return {
        "run": run,
        "source": run.source,
        "chunks": list(run.chunks.defer("errors")),
        "eta": None if eta is None else {"minutes": eta // 60, "seconds": eta % 60},
        "can_change": request.user.has_perm("customer360.change_datasource"),
    }


def run_detail(request: HttpRequest, pk: int) -> HttpResponse:
    _may_view(request)
    run = get_object_or_404(
        ImportRun.objects.select_related("source", "created_by", "undo_job", "undone_by"), pk=pk
    )
    return render(request, "sources/run_detail.html", _progress_context(request, run))


def run_undo(request: HttpRequest, pk: int) -> HttpResponse:
    """Undo a run: what it would remove and restore (counts per kind), then the worker does it."""
    _may_change(request)
    run = get_object_or_404(ImportRun.objects.select_related("source", "undo_job"), pk=pk)
    refusal = undo.undo_refusal(run)
    if request.method == "POST" and not refusal:
        with transaction.atomic():
            undo.run_undo_start(run=run, user=request.user)
        messages.info(request, _("Undoing the import in the background; this page shows its progress."))
        return redirect("sources:run_detail", pk=run.pk)
    plan = None if refusal else undo.run_undo_plan(run)
    context = {"run": run, "source": run.source, "refusal": refusal, "plan": plan}
    return render(
        request, "sources/run_undo.html", context, status=409 if refusal and request.method == "POST" else 200
    )


def run_progress(request: HttpRequest, pk: int) -> HttpResponse:
    """The progress partial, polled by htmx every second until the run is finished."""
    _may_view(request)
    run = get_object_or_404(ImportRun.objects.select_related("source"), pk=pk)
    return render(request, "sources/_progress.html", _progress_context(request, run))


@require_POST
def run_cancel(request: HttpRequest, pk: int) -> HttpResponse:
    """Stop a queued or running import at its next chunk; what is written stays."""
    _may_change(request)
    run = get_object_or_404(ImportRun, pk=pk)
    if chunks.request_cancel(run):
        messages.info(request, _("The import stops after the chunk it is writing now."))
    else:
        messages.error(request, _("This import is not running; there is nothing to cancel."))
    return redirect("sources:run_detail", pk=run.pk)


@require_POST
def run_resume(request: HttpRequest, pk: int) -> HttpResponse:
    """A failed or cancelled import goes on at its checkpoint (no row twice, none skipped)."""
    _may_change(request)
    run = get_object_or_404(ImportRun, pk=pk)
    if run.can_resume and chunks.resume(run):
        messages.success(request, _("The import goes on at row %(row)s.") % {"row": run.next_row})
    else:
        messages.error(request, _("Only a failed or cancelled import with rows left can be resumed."))
    return redirect("sources:run_detail", pk=run.pk)


def run_errors(request: HttpRequest, pk: int) -> FileResponse:
    _may_view(request)
    run = get_object_or_404(ImportRun, pk=pk)
    if not run.error_file:
        raise Http404
    record_access(request, Action.EXPORT, rows=run.failed, what=f"import errors run {run.pk}")
    return FileResponse(
        run.error_file.open("rb"),
        as_attachment=True,
        filename=f"errors-{run.source.slug}-run-{run.pk}.csv",
        content_type="text/csv; charset=utf-8",
    )


# --- Duplicates and merges ----------------------------------------------------------------------
def duplicate_list(request: HttpRequest) -> HttpResponse:
    access.require(request.user, "customer360.view_duplicatecandidate")
    candidates = list(DuplicateCandidate.objects.filter(status=DuplicateCandidate.Status.OPEN)[:100])
    ids = {c.customer_a_id for c in candidates} | {c.customer_b_id for c in candidates}
    customers = Customer.objects.visible_to(request.user).in_bulk(list(ids))
    rows = [
        {"candidate": c, "a": customers[c.customer_a_id], "b": customers[c.customer_b_id]}
        for c in candidates
        if c.customer_a_id in customers and c.customer_b_id in customers
    ]
    merges = CustomerMerge.objects.select_related("kept", "performed_by")[:20]
    context = {"rows": rows, "merges": merges, "thresholds": list(duplicates.thresholds().values())}
    return render(request, "sources/duplicate_list.html", context)


@require_POST
def duplicate_scan(request: HttpRequest) -> HttpResponse:
    access.require(request.user, "customer360.add_duplicatecandidate")
    from customer360.sources.tasks import find_duplicates

    transaction.on_commit(lambda: find_duplicates.delay())
    messages.info(request, _("Looking for duplicates; reload the page in a moment."))
    return redirect("sources:duplicate_list")


@require_POST
def duplicate_dismiss(request: HttpRequest, pk: int) -> HttpResponse:
    access.require(request.user, "customer360.change_duplicatecandidate")
    DuplicateCandidate.objects.filter(pk=pk).update(
        status=DuplicateCandidate.Status.DISMISSED, decided_by=request.user, decided_at=timezone.now()
    )
    return redirect("sources:duplicate_list")


def duplicate_merge(request: HttpRequest, pk: int) -> HttpResponse:
    """Both customers side by side; the admin picks each field, then merges."""
    access.require(request.user, "customer360.add_customermerge")
    candidate = get_object_or_404(DuplicateCandidate, pk=pk, status=DuplicateCandidate.Status.OPEN)
    visible = Customer.objects.visible_to(request.user).select_related("owner")
    a = get_object_or_404(visible, pk=candidate.customer_a_id)
    b = get_object_or_404(visible, pk=candidate.customer_b_id)
    kept, other = (b, a) if request.GET.get("keep") == "b" or request.POST.get("keep") == "b" else (a, b)
    if request.method == "POST":
        chosen = {name: request.POST.get(f"choose_{name}", "kept") for name in MERGE_FIELDS}
        try:
            merge = customer_merge(
                kept=kept, merged=other, chosen=chosen, user=request.user, candidate=candidate
            )
        except ValidationError as exc:
            messages.error(request, "; ".join(exc.messages))
            return redirect("sources:duplicate_list")
        messages.success(
            request,
            _(
                "Merged: %(count)s records moved to %(name)s. You can undo this under Data sources → Duplicates."
            )
            % {"count": merge.moved_count, "name": kept.display_name},
        )
        return redirect(kept.get_absolute_url())
    fields = []
    for name in MERGE_FIELDS:
        field = Customer._meta.get_field(name)
        kept_value, other_value = _display(kept, name), _display(other, name)
        fields.append(
            {
                "name": name,
                "label": field.verbose_name,
                "kept": kept_value,
                "other": other_value,
                "differs": kept_value != other_value,
                "take_other": not kept_value and bool(other_value),
            }
        )
    counts = {
        "kept": {"events": kept.events.count(), "identities": kept.identities.count()},
        "other": {"events": other.events.count(), "identities": other.identities.count()},
    }
    return render(
        request,
        "sources/merge_form.html",
        {
            "candidate": candidate,
            "kept": kept,
            "other": other,
            "fields": fields,
            "counts": counts,
            "keep": "b" if kept is b else "a",
        },
    )


def _display(customer: Customer, name: str) -> str:
    display = getattr(customer, f"get_{name}_display", None)
    value = display() if display else getattr(customer, name)
    return "" if value is None else str(value)


@require_POST
def merge_undo_view(request: HttpRequest, pk: int) -> HttpResponse:
    access.require(request.user, "customer360.change_customermerge")
    merge = get_object_or_404(CustomerMerge, pk=pk)
    try:
        restored = merge_undo(merge=merge, user=request.user)
    except ValidationError as exc:
        messages.error(request, "; ".join(exc.messages))
        return redirect("sources:duplicate_list")
    messages.success(
        request, _("Merge undone: %(name)s is back with its records.") % {"name": restored.display_name}
    )
    return redirect("sources:duplicate_list")
