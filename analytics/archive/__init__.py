"""The archive: every report and dead letter as Parquet, the system of record (CONTRACT section 7).

``layout`` defines the public format, ``storage`` where it lives (disk or an
S3-compatible store), ``consumer`` the stream consumer that fills it.
"""
