"""Where the archive lives: a local directory or an S3-compatible bucket, behind one small interface.

Both make a file visible only whole: on disk it is written under a temporary
name (which readers skip), flushed to the disk, then renamed; on S3 an object
appears only once its upload completes. ``write`` returns after the file is
durable, so the caller may commit the Kafka offsets it holds.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache
from pathlib import Path
from urllib.parse import urlsplit

import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.parquet as pq
from django.conf import settings
from pyarrow import fs

from analytics.archive import layout


class ArchiveStorage:
    """An archive root: ``url`` is a local path or ``s3://bucket/prefix``."""

    def __init__(self, url: str, *, endpoint_url: str | None = None) -> None:
        self.url = url
        parts = urlsplit(url)
        if parts.scheme == "s3":
            if not parts.netloc:
                raise ValueError(f"ARCHIVE_URL {url!r}: s3:// needs a bucket, as in s3://bucket/prefix")
            self.local = False
            self.root = f"{parts.netloc}/{parts.path.strip('/')}".rstrip("/")
            options: dict = {}
            if endpoint_url:
                endpoint = urlsplit(endpoint_url)
                options.update(endpoint_override=endpoint.netloc or endpoint.path, scheme=endpoint.scheme or "https")
            # Credentials and region come from the standard AWS_* variables (or an instance role).
            self.fs: fs.FileSystem = fs.S3FileSystem(**options)
        elif parts.scheme in ("", "file"):
            self.local = True
            self.root = str(Path(parts.path if parts.scheme else url).resolve())
            self.fs = fs.LocalFileSystem()
        else:
            raise ValueError(f"ARCHIVE_URL {url!r}: a local path or s3://bucket/prefix")

    def __repr__(self) -> str:
        return f"ArchiveStorage({self.url!r})"

    def path(self, relative: str) -> str:
        return f"{self.root}/{relative}"

    def list(self, relative_dir: str) -> list[str]:
        """Names of the files directly in a directory of the archive ([] when it does not exist)."""
        return list(self.sizes(relative_dir))

    def sizes(self, relative_dir: str) -> dict[str, int]:
        """Name -> bytes of the files directly in a directory (one listing, no request per file)."""
        selector = fs.FileSelector(self.path(relative_dir), allow_not_found=True)
        return {info.base_name: info.size for info in self.fs.get_file_info(selector) if info.type == fs.FileType.File}

    def directories(self, relative_dir: str) -> list[str]:
        selector = fs.FileSelector(self.path(relative_dir), allow_not_found=True)
        return sorted(info.base_name for info in self.fs.get_file_info(selector) if info.type == fs.FileType.Directory)

    def write(self, relative_path: str, table: pa.Table) -> int:
        """Write ``table`` as one Parquet file, visible only whole and durable on return; its size."""
        with self.open_whole(relative_path) as sink:
            pq.write_table(table, sink, **layout.PARQUET_OPTIONS)
        return self.size(relative_path)

    @contextmanager
    def open_whole(self, relative_path: str) -> Iterator:
        """A binary sink for one file that becomes visible, whole and durable, when the block ends without error."""
        target = self.path(relative_path)
        if not self.local:
            with self.fs.open_output_stream(target) as stream:  # the object appears on completion
                yield stream
            return
        directory, name = os.path.split(target)
        os.makedirs(directory, exist_ok=True)
        # "_" first: Hive, Spark, Trino and DuckDB's Hive globs skip such names.
        temporary = os.path.join(directory, f"_{name}.{uuid.uuid4().hex}.tmp")
        try:
            with open(temporary, "wb") as handle:
                yield handle
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(temporary, target)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise
        descriptor = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(descriptor)  # the rename itself survives a power cut
        finally:
            os.close(descriptor)

    def size(self, relative_path: str) -> int:
        return self.fs.get_file_info(self.path(relative_path)).size

    def delete(self, relative_path: str) -> None:
        self.fs.delete_file(self.path(relative_path))

    def read(self, relative_path: str) -> pa.Table:
        return pq.read_table(self.path(relative_path), filesystem=self.fs)

    def files(self, stream: str, dates: tuple[str, str] | None = None) -> list[str]:
        """Full paths of the current files of a stream, optionally for dates from..to (YYYY-MM-DD, inclusive)."""
        return [self.path(f"{leaf}/{name}") for leaf, names in self.leaves(stream, dates).items() for name in names]

    def leaves(self, stream: str, dates: tuple[str, str] | None = None) -> dict[str, list[str]]:
        """Leaf directory (relative) -> names of its current files, for every leaf of a stream (or of those dates).

        One recursive listing per date rather than one per hour: on S3 a listing is a request.
        """
        found: dict[str, list[str]] = {}
        for date_dir in self.directories(stream):
            date = date_dir.removeprefix("date=")
            if dates is not None and not dates[0] <= date <= dates[1]:
                continue
            for leaf, names in sorted(self.tree(f"{stream}/{date_dir}").items()):
                if current := layout.current(names):
                    found[leaf] = current
        return found

    def tree(self, relative_dir: str) -> dict[str, list[str]]:
        """Directory (relative to the root) -> names of the files directly in it, for everything under a directory."""
        selector = fs.FileSelector(self.path(relative_dir), allow_not_found=True, recursive=True)
        found: dict[str, list[str]] = {}
        prefix = f"{self.root}/"
        for info in self.fs.get_file_info(selector):
            if info.type == fs.FileType.File:
                parent, _, name = info.path.removeprefix(prefix).rpartition("/")
                found.setdefault(parent, []).append(name)
        return found

    def dataset(self, stream: str, dates: tuple[str, str] | None = None) -> ds.Dataset:
        """The stream's current files as one Arrow dataset, with the Hive partition columns."""
        return self.hive_dataset(
            self.files(stream, dates), layout.SCHEMAS[stream], stream, layout.PARTITION_KEYS[stream]
        )

    def hive_dataset(self, paths: list[str], schema: pa.Schema, base_dir: str, keys: pa.Schema) -> ds.Dataset:
        """Parquet files (full paths) under ``base_dir`` as one Arrow dataset, with the Hive ``keys`` as columns."""
        return ds.dataset(
            paths,
            schema=pa.unify_schemas([schema, keys]),
            format="parquet",
            filesystem=self.fs,
            partitioning=ds.partitioning(keys, flavor="hive"),
            partition_base_dir=self.path(base_dir),
        )


@cache
def get_archive() -> ArchiveStorage:
    """The archive of the settings (``ARCHIVE_URL``)."""
    return ArchiveStorage(settings.ARCHIVE_URL, endpoint_url=settings.AWS_ENDPOINT_URL)
