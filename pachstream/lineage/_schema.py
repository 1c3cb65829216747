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
    """
    CREATE TABLE pipelines (
        name text NOT NULL,
        version integer NOT NULL,
        spec jsonb NOT NULL,
        salt text NOT NULL,
        created double precision NOT NULL,
        PRIMARY KEY (name, version));
    CREATE TABLE pipeline_states (
        name text PRIMARY KEY,
        version integer NOT NULL,
        state text NOT NULL,
        updated double precision NOT NULL);
    CREATE TABLE jobs (
        id text PRIMARY KEY,
        pipeline text NOT NULL,
        version integer NOT NULL,
        inputs jsonb NOT NULL,
        output_commit text NOT NULL,
        state text NOT NULL,
        datums integer NOT NULL,
        to_run integer NOT NULL,
        skipped integer NOT NULL,
        processed integer NOT NULL DEFAULT 0,
        failed integer NOT NULL DEFAULT 0,
        recovered integer NOT NULL DEFAULT 0,
        started double precision NOT NULL,
        finished double precision,
        reason text NOT NULL DEFAULT '',
        rerun_of text);
    CREATE INDEX jobs_pipeline ON jobs (pipeline, started);
    CREATE TABLE datums (
        job_id text NOT NULL,
        datum_id text NOT NULL,
        pipeline text NOT NULL,
        hash text NOT NULL,
        state text NOT NULL,
        tries integer NOT NULL,
        exit_code integer,
        timed_out boolean NOT NULL,
        stderr_tail text NOT NULL,
        stdout_tail text NOT NULL,
        log_ref text NOT NULL,
        started double precision NOT NULL,
        duration_s double precision NOT NULL,
        worker text NOT NULL,
        inputs jsonb NOT NULL,
        outputs jsonb NOT NULL,
        PRIMARY KEY (job_id, datum_id));
    """,
]
