"""Files that every host reads: uploads, error files, work copies, exports and trained models.

They go through Django's storage API (``django.core.files.storage.default_storage``), never a local
path, so a second web or worker host needs no shared file system. ``C360_FILE_STORAGE`` picks the
backend: ``filesystem`` (embedded mode's default, ``MEDIA_ROOT``), ``database`` (rows in PostgreSQL,
:class:`customer360.files.storage.DatabaseStorage`) or ``s3`` (an S3-compatible store through
django-storages, ``pip install '.[s3]'``).
"""
