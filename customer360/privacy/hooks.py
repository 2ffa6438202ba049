"""Where data subject requests meet the access log (built by the audit part of issue #14).

The lead connects these at merge time; each is the ONE call site for its event:

* :func:`export_downloaded`: a subject export ZIP was downloaded; wire it to
  ``customer360.audit.access.record_access(request, customer_ids=[export.customer_id],
  rows=export.row_count, what="subject_export")``.
* The access log ABOUT the person joins the export as a registry line
  (see ``customer360.privacy.registry``), and the change history is scrubbed on erasure the same way.
"""

from __future__ import annotations

from collections.abc import Callable

#: Functions ``(request, export)`` called on every download of a subject export.
download_listeners: list[Callable] = []


def export_downloaded(request, export) -> None:
    for listener in download_listeners:
        listener(request, export)
