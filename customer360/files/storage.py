"""A Django storage backend that keeps files in the database, for hosts without a shared file system.

Each file is a :class:`~customer360.files.models.StoredFile` row and its contents a sequence of
1 MiB :class:`~customer360.files.models.StoredFileChunk` rows. Reading is lazy and seekable (imports
read their work copy by byte offset, XLSX is a ZIP), so a 50 MB upload is never held in memory
whole. Files are private: there is no public URL; pages serve them through views that check access.
"""

from __future__ import annotations

import hashlib
import io

from django.core.files import File
from django.core.files.storage import Storage
from django.db import DEFAULT_DB_ALIAS, IntegrityError, transaction
from django.utils.deconstruct import deconstructible

from customer360.files.models import StoredFile, StoredFileChunk

CHUNK = 1 << 20


class _ChunkReader(io.RawIOBase):
    """A read-only, seekable view of one stored file, fetching one chunk at a time."""

    def __init__(self, stored: StoredFile, using: str):
        super().__init__()
        self._file_id, self._size, self._using = stored.pk, stored.size, using
        self._pos = 0
        self._seq: int | None = None
        self._data = b""

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._pos

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._pos, io.SEEK_END: self._size}[whence]
        if base + offset < 0:
            raise ValueError("negative seek position")
        self._pos = base + offset
        return self._pos

    def readinto(self, buffer) -> int:
        if self._pos >= self._size:
            return 0
        seq, offset = divmod(self._pos, CHUNK)
        if seq != self._seq:
            row = StoredFileChunk.objects.using(self._using).filter(file_id=self._file_id, seq=seq)
            self._data = bytes(row.values_list("data", flat=True).get())
            self._seq = seq
        count = min(len(buffer), len(self._data) - offset)
        buffer[:count] = self._data[offset : offset + count]
        self._pos += count
        return count


class _StoredFile(File):
    """A stored file as Django's File; it can be opened again after closing, as FieldFile expects."""

    def __init__(self, stored: StoredFile, using: str, name: str):
        self._stored, self._using = stored, using
        super().__init__(self._reader(), name)

    def _reader(self):
        return io.BufferedReader(_ChunkReader(self._stored, self._using), buffer_size=256 * 1024)

    @property
    def size(self) -> int:
        return self._stored.size

    def open(self, mode: str = "rb"):
        if any(flag in mode for flag in "wax+"):
            raise ValueError("a stored file is read-only: save a new one instead")
        if self.closed:
            self.file = self._reader()
        else:
            self.seek(0)
        return self


@deconstructible(path="customer360.files.storage.DatabaseStorage")
class DatabaseStorage(Storage):
    """Files as rows of the primary database (see the module's docstring)."""

    def __init__(self, using: str = DEFAULT_DB_ALIAS):
        self.using = using

    def _files(self):
        return StoredFile.objects.using(self.using)

    def _open(self, name: str, mode: str = "rb") -> File:
        if any(flag in mode for flag in "wax+"):
            raise ValueError("a stored file is read-only: save a new one instead")
        stored = self._files().filter(name=name).only("pk", "size").first()
        if stored is None:
            raise FileNotFoundError(name)
        return _StoredFile(stored, self.using, name)

    def _save(self, name: str, content) -> str:
        for _attempt in range(3):
            try:
                with transaction.atomic(using=self.using):
                    self._write(name, content)
                return name
            except IntegrityError:  # another host took the name between the check and the write
                name = self.get_available_name(name)
        raise FileExistsError(name)

    def _write(self, name: str, content) -> None:
        stored = self._files().create(name=name)
        digest, size, seq, pending = hashlib.sha256(), 0, 0, bytearray()
        if hasattr(content, "seek") and getattr(content, "seekable", lambda: True)():
            content.seek(0)
        for piece in content.chunks(CHUNK):
            piece = piece.encode() if isinstance(piece, str) else piece
            digest.update(piece)
            size += len(piece)
            pending += piece
            while len(pending) >= CHUNK:
                self._chunk(stored, seq, bytes(pending[:CHUNK]))
                del pending[:CHUNK]
                seq += 1
        if pending or seq == 0:
            self._chunk(stored, seq, bytes(pending))
        self._files().filter(pk=stored.pk).update(size=size, sha256=digest.hexdigest())

    def _chunk(self, stored: StoredFile, seq: int, data: bytes) -> None:
        StoredFileChunk.objects.using(self.using).create(file=stored, seq=seq, data=data)

    def delete(self, name: str) -> None:
        with transaction.atomic(using=self.using):
            ids = list(self._files().filter(name=name).values_list("pk", flat=True))
            StoredFileChunk.objects.using(self.using).filter(file_id__in=ids).delete()
            self._files().filter(pk__in=ids).delete()

    def exists(self, name: str) -> bool:
        return self._files().filter(name=name).exists()

    def size(self, name: str) -> int:
        size = self._files().filter(name=name).values_list("size", flat=True).first()
        if size is None:
            raise FileNotFoundError(name)
        return size

    def sha256(self, name: str) -> str | None:
        """The digest recorded when the file was saved (None when there is no such file)."""
        return self._files().filter(name=name).values_list("sha256", flat=True).first()

    def listdir(self, path: str) -> tuple[list[str], list[str]]:
        prefix = path.strip("/") + "/" if path.strip("/") else ""
        directories, files = set(), []
        for name in self._files().filter(name__startswith=prefix).values_list("name", flat=True):
            rest = name[len(prefix) :]
            head, _sep, tail = rest.partition("/")
            (directories.add(head) if tail else files.append(head))
        return sorted(directories), sorted(files)

    def _created(self, name: str):
        created = self._files().filter(name=name).values_list("created_at", flat=True).first()
        if created is None:
            raise FileNotFoundError(name)
        return created

    get_created_time = get_modified_time = get_accessed_time = _created

    def url(self, name: str) -> str:
        raise NotImplementedError("stored files have no public address; a view serves them")
