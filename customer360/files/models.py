"""Stored files for :class:`customer360.files.storage.DatabaseStorage`: a file row and its contents in
chunks of up to 1 MiB, so a 50 MB upload is fifty rows and is read back piece by piece."""

from __future__ import annotations

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

__all__ = ["StoredFile", "StoredFileChunk"]


class StoredFile(models.Model):
    name = models.CharField(_("name"), max_length=400, unique=True)
    size = models.BigIntegerField(_("size"), default=0)
    sha256 = models.CharField(max_length=64, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("stored file")
        verbose_name_plural = _("stored files")

    def __str__(self) -> str:
        return self.name


class StoredFileChunk(models.Model):
    file = models.ForeignKey(StoredFile, on_delete=models.CASCADE, related_name="chunks")
    seq = models.PositiveIntegerField()
    data = models.BinaryField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["file", "seq"], name="customer360_stored_chunk_seq")]

    def __str__(self) -> str:
        return f"{self.file_id}#{self.seq}"
