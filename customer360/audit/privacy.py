"""The audit's part of data subject requests: the access log about the person joins their export,
every download of an export is itself logged, and an erasure ends with the change history scrubbed.

The scrub runs LAST: erasure walks the contributors in reverse order, and every contributor before
it writes history of its own (the delete of an identity or a consent is kept with its old values by
the history triggers), which must not outlive the erasure."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _

from customer360.audit import access, history
from customer360.privacy import hooks
from customer360.privacy.registry import SubjectData, rows, subject_data


def _export(customer) -> dict[str, list[dict]]:
    return {"access_log": rows(access.rows_about(customer.pk))}


def _erase(customer, request) -> dict[str, int]:
    counts = {f"history:{name}": n for name, n in history.scrub_customer(customer.pk).items()}
    needles = getattr(request, "needles", None)
    for name, n in history.scrub_text(needles.terms if needles else ()).items():
        counts[f"history:{name}"] = counts.get(f"history:{name}", 0) + n
    return counts


def _log_download(request, export) -> None:
    access.record_access(
        request,
        access.Action.EXPORT,
        customers=[export.customer_id],
        rows=export.row_count,
        what="subject export",
    )


subject_data.register(
    SubjectData(
        key="audit",
        label=_("Access log and change history"),
        export=_export,
        erase=_erase,
        order=-100,
    )
)
hooks.download_listeners.append(_log_download)
