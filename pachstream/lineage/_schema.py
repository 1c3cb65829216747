"""The query side's tables, one migration per schema version (append only, never edit)."""

MIGRATIONS = [
    """
    CREATE TABLE repos (
        name text PRIMARY KEY,
        description text NOT NULL DEFAULT '',
        created double precision NOT NULL);
    CREATE TABLE branches (
        repo text NOT NULL,
        name text NOT NULL,
        head text,
        updated double precision NOT NULL,
        PRIMARY KEY (repo, name));
    CREATE TABLE commits (
        id text PRIMARY KEY,
        repo text NOT NULL,
        branch text NOT NULL,
        parent text,
        description text NOT NULL DEFAULT '',
        started double precision NOT NULL,
        finished double precision,
        root text,
        file_count bigint,
        size_bytes bigint,
        added integer,
        modified integer,
        deleted integer,
        diff_ref text,
        request_id text NOT NULL);
    CREATE INDEX commits_repo_branch ON commits (repo, branch, started);
    CREATE TABLE requests (
        request_id text PRIMARY KEY,
        repo text NOT NULL,
        ok boolean NOT NULL,
        commit_id text,
        error_code text,
        error_message text,
        error_fields jsonb);
    CREATE TABLE blobs (
        hash text PRIMARY KEY,
        size bigint NOT NULL,
        pack text,
        pack_offset bigint NOT NULL);
    CREATE TABLE lineage_offsets (
        topic text NOT NULL,
        partition integer NOT NULL,
        next_offset bigint NOT NULL,
        PRIMARY KEY (topic, partition));
    """,
]
