"""The gateway's own tables, in the namespace's schema: applied on start as component ``s3gateway``.

- ``s3_uploads``, ``s3_parts``: multipart uploads in progress (and completed ones for a day),
  :mod:`~._uploads`;
- ``s3_objects``: object metadata and checksums, keyed by (repo, path, content hash),
  :mod:`~._records`.

The gateway reads the lineage tables (repos, branches, commits) only through the client.
"""

from __future__ import annotations

MIGRATIONS = [
    """
    CREATE TABLE s3_uploads (
        upload_id text PRIMARY KEY, bucket text NOT NULL, key text NOT NULL,
        initiated double precision NOT NULL);
    CREATE TABLE s3_parts (
        upload_id text NOT NULL REFERENCES s3_uploads ON DELETE CASCADE,
        part_number integer NOT NULL, etag text NOT NULL, size bigint NOT NULL,
        chunks jsonb NOT NULL, last_modified double precision NOT NULL,
        PRIMARY KEY (upload_id, part_number));
    """,
    # Object metadata and checksums (_records.py); an upload's metadata, checksum algorithm
    # and, once completed, its result; each part's checksums.
    """
    CREATE TABLE s3_objects (
        repo text NOT NULL, path text NOT NULL, hash text NOT NULL,
        meta jsonb NOT NULL, checksum jsonb, parts jsonb,
        PRIMARY KEY (repo, path, hash));
    ALTER TABLE s3_uploads
        ADD COLUMN meta jsonb NOT NULL DEFAULT '{}',
        ADD COLUMN checksum_algorithm text,
        ADD COLUMN checksum_type text,
        ADD COLUMN completed double precision,
        ADD COLUMN result jsonb;
    ALTER TABLE s3_parts ADD COLUMN checksums jsonb NOT NULL DEFAULT '{}';
    """,
]
"""The gateway's migrations, in order (never edit one that shipped; append)."""

__all__ = ["MIGRATIONS"]
