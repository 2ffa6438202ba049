"""Progress of long work that a page shows with a progress bar (a Job, an import run)."""

from __future__ import annotations

from django.db.models import F


class Progress:
    """The one progress helper of long work shown with a progress bar (a Job, an import run): the
    model has ``status`` (with DONE and FAILED), ``total`` and ``done`` columns."""

    @property
    def percent(self) -> int:
        if self.status == "done":
            return 100
        return min(100, int(100 * self.done / self.total)) if self.total else 0

    @property
    def is_finished(self) -> bool:
        return self.status in {"done", "failed", "cancelled"}

    def advance(self, by: int = 1, *, total: int | None = None, **counters: int) -> None:
        """Add progress (and named counters) atomically in the database: one UPDATE, safe while
        several workers advance the same row and readers poll it. ``total`` replaces the total in
        the same UPDATE (work whose size is estimated as it goes, e.g. rows of a file being read)."""
        changes = {name: F(name) + value for name, value in counters.items() if value}
        if total is not None:
            changes["total"] = total
        type(self)._default_manager.filter(pk=self.pk).update(done=F("done") + by, **changes)
