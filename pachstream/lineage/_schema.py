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

# Version 3: file-level lineage. Facts may arrive out of order (a worker's datum result can
# overtake its job's start on another partition), so every row below is written by
# order-independent statements; the job row can be created by either its start or its end.
# The offsets are reset so that the new tables are filled by replaying the log: every
# statement is idempotent, so the old tables come out the same.
MIGRATIONS.append(
    """
    ALTER TABLE jobs
        ALTER COLUMN version DROP NOT NULL,
        ALTER COLUMN inputs SET DEFAULT '[]',
        ALTER COLUMN output_commit SET DEFAULT '',
        ALTER COLUMN datums SET DEFAULT 0,
        ALTER COLUMN to_run SET DEFAULT 0,
        ALTER COLUMN started DROP NOT NULL;
    CREATE INDEX jobs_output_commit ON jobs (output_commit);
    -- What clients list: a job whose end overtook its start is not known until it starts.
    CREATE VIEW started_jobs AS SELECT * FROM jobs WHERE started IS NOT NULL;
    CREATE INDEX jobs_rerun_of ON jobs (rerun_of) WHERE rerun_of IS NOT NULL;
    ALTER TABLE pipeline_states ALTER COLUMN version SET DEFAULT 0;

    CREATE TABLE commit_files (
        commit_id text NOT NULL,
        repo text NOT NULL,
        path text NOT NULL,
        change text NOT NULL,
        hash text,
        size bigint,
        PRIMARY KEY (commit_id, path));
    CREATE INDEX commit_files_repo_path ON commit_files (repo, path);

    CREATE TABLE commit_provenance (
        commit_id text NOT NULL,
        repo text NOT NULL,
        job_id text NOT NULL,
        input_name text NOT NULL,
        input_repo text NOT NULL,
        input_branch text NOT NULL,
        input_commit text,
        PRIMARY KEY (commit_id, input_name));
    CREATE INDEX commit_provenance_input ON commit_provenance (input_commit);
    CREATE INDEX commit_provenance_job ON commit_provenance (job_id);

    CREATE TABLE datum_inputs (
        job_id text NOT NULL,
        datum_id text NOT NULL,
        input_name text NOT NULL,
        repo text NOT NULL,
        commit_id text,
        path text NOT NULL,
        hash text NOT NULL,
        size bigint NOT NULL,
        PRIMARY KEY (job_id, datum_id, input_name, path));
    CREATE INDEX datum_inputs_file ON datum_inputs (repo, path, hash);

    CREATE TABLE datum_outputs (
        job_id text NOT NULL,
        datum_id text NOT NULL,
        repo text NOT NULL,
        commit_id text NOT NULL,
        path text NOT NULL,
        hash text NOT NULL,
        size bigint NOT NULL,
        PRIMARY KEY (job_id, datum_id, path));
    CREATE INDEX datum_outputs_file ON datum_outputs (repo, path, hash);

    -- The file at a path as of a commit: the nearest change of the path on the commit's
    -- ancestry (no row when the nearest change deleted it, or there is none).
    CREATE FUNCTION file_at(p_commit text, p_path text)
    RETURNS TABLE (commit_id text, hash text, size bigint)
    LANGUAGE sql STABLE AS $$
        WITH RECURSIVE chain(id, n) AS (
            SELECT p_commit, 0
            UNION ALL
            SELECT c.parent, chain.n + 1
            FROM chain JOIN commits c ON c.id = chain.id
            WHERE c.parent IS NOT NULL AND NOT EXISTS (
                SELECT 1 FROM commit_files f WHERE f.commit_id = chain.id AND f.path = p_path)
        )
        SELECT near.commit_id, near.hash, near.size FROM (
            SELECT f.commit_id, f.hash, f.size, f.change
            FROM chain JOIN commit_files f ON f.commit_id = chain.id AND f.path = p_path
            ORDER BY chain.n LIMIT 1) near
        WHERE near.change <> 'deleted'
    $$;

    -- The datum that wrote a file of a pipeline's output commit: among the datums that wrote
    -- this path with this content, the latest one of a job that landed, up to the job that
    -- made the commit (skipped datums keep their earlier producer; a rerun's carried datums
    -- belong to the job it reran).
    CREATE FUNCTION file_producer(p_repo text, p_commit text, p_path text, p_hash text)
    RETURNS TABLE (job_id text, datum_id text)
    LANGUAGE sql STABLE AS $$
        SELECT o.job_id, o.datum_id
        FROM jobs made
        JOIN datum_outputs o ON o.repo = p_repo AND o.path = p_path AND o.hash = p_hash
        JOIN jobs j ON j.id = o.job_id
        WHERE made.output_commit = p_commit AND made.pipeline = p_repo
          AND j.pipeline = p_repo AND j.started <= made.started
          AND (j.state = 'success' OR j.id = made.rerun_of)
        ORDER BY j.started DESC, o.datum_id
        LIMIT 1
    $$;

    -- Every (output file ← datum ← input file) edge behind a file, level by level.
    CREATE FUNCTION lineage_upstream(
        p_repo text, p_commit text, p_path text, p_depth int DEFAULT 100)
    RETURNS TABLE (depth int, repo text, commit_id text, path text, hash text, pipeline text,
                   version int, job_id text, datum_id text, input_name text, input_repo text,
                   input_commit text, input_path text, input_hash text)
    LANGUAGE sql STABLE AS $$
        WITH RECURSIVE up(depth, repo, commit_id, path, hash, job_id, datum_id) AS (
            SELECT 1, p_repo, p_commit, p_path, f.hash, pr.job_id, pr.datum_id
            FROM file_at(p_commit, p_path) f
            CROSS JOIN LATERAL file_producer(p_repo, p_commit, p_path, f.hash) pr
            UNION
            SELECT up.depth + 1, i.repo, i.commit_id, i.path, i.hash, pr.job_id, pr.datum_id
            FROM up
            JOIN datum_inputs i ON i.job_id = up.job_id AND i.datum_id = up.datum_id
            CROSS JOIN LATERAL file_producer(i.repo, i.commit_id, i.path, i.hash) pr
            WHERE up.depth < p_depth
        )
        SELECT up.depth, up.repo, up.commit_id, up.path, up.hash, j.pipeline, j.version,
               up.job_id, up.datum_id, i.input_name, i.repo, i.commit_id, i.path, i.hash
        FROM up
        JOIN jobs j ON j.id = up.job_id
        JOIN datum_inputs i ON i.job_id = up.job_id AND i.datum_id = up.datum_id
        ORDER BY 1, 2, 4, 11, 13
    $$;

    -- Whether a datum's outputs reached an output commit: its job succeeded, or a successful
    -- rerun of its job carried them.
    CREATE FUNCTION datum_landed(p_job text) RETURNS boolean
    LANGUAGE sql STABLE AS $$
        SELECT EXISTS (SELECT 1 FROM jobs j WHERE j.id = p_job AND j.state = 'success')
            OR EXISTS (SELECT 1 FROM jobs r WHERE r.rerun_of = p_job AND r.state = 'success')
    $$;

    -- Every (input file → datum → output file) edge derived from a file's content, level by
    -- level; only outputs that landed (the job succeeded, or a successful rerun carried them).
    -- The same columns as lineage_upstream: the output side first.
    CREATE FUNCTION lineage_downstream(
        p_repo text, p_commit text, p_path text, p_depth int DEFAULT 100)
    RETURNS TABLE (depth int, repo text, commit_id text, path text, hash text, pipeline text,
                   version int, job_id text, datum_id text, input_name text, input_repo text,
                   input_commit text, input_path text, input_hash text)
    LANGUAGE sql STABLE AS $$
        WITH RECURSIVE down(depth, repo, commit_id, path, hash, job_id, datum_id, input_name,
                            input_repo, input_commit, input_path, input_hash) AS (
            SELECT 1, o.repo, o.commit_id, o.path, o.hash, o.job_id, o.datum_id, i.input_name,
                   i.repo, i.commit_id, i.path, i.hash
            FROM file_at(p_commit, p_path) f
            JOIN datum_inputs i ON i.repo = p_repo AND i.path = p_path AND i.hash = f.hash
            JOIN datum_outputs o ON o.job_id = i.job_id AND o.datum_id = i.datum_id
            WHERE datum_landed(o.job_id)
            UNION
            SELECT down.depth + 1, o.repo, o.commit_id, o.path, o.hash, o.job_id, o.datum_id,
                   i.input_name, i.repo, i.commit_id, i.path, i.hash
            FROM down
            JOIN datum_inputs i
              ON i.repo = down.repo AND i.path = down.path AND i.hash = down.hash
            JOIN datum_outputs o ON o.job_id = i.job_id AND o.datum_id = i.datum_id
            WHERE down.depth < p_depth AND datum_landed(o.job_id)
        )
        SELECT down.depth, down.repo, down.commit_id, down.path, down.hash, j.pipeline,
               j.version, down.job_id, down.datum_id, down.input_name, down.input_repo,
               down.input_commit, down.input_path, down.input_hash
        FROM down JOIN jobs j ON j.id = down.job_id
        ORDER BY 1, 2, 4, 11, 13
    $$;

    -- Commit provenance, transitively: the input commits behind a commit ...
    CREATE FUNCTION commit_upstream(p_commit text, p_depth int DEFAULT 100)
    RETURNS TABLE (depth int, commit_id text, repo text, job_id text, input_name text,
                   input_repo text, input_branch text, input_commit text)
    LANGUAGE sql STABLE AS $$
        WITH RECURSIVE up AS (
            SELECT 1 AS depth, p.* FROM commit_provenance p WHERE p.commit_id = p_commit
            UNION
            SELECT up.depth + 1, p.*
            FROM up JOIN commit_provenance p ON p.commit_id = up.input_commit
            WHERE up.depth < p_depth
        )
        SELECT * FROM up ORDER BY 1, 3, 6
    $$;

    -- ... and its subvenance: the output commits made from it.
    CREATE FUNCTION commit_downstream(p_commit text, p_depth int DEFAULT 100)
    RETURNS TABLE (depth int, commit_id text, repo text, job_id text, input_name text,
                   input_repo text, input_branch text, input_commit text)
    LANGUAGE sql STABLE AS $$
        WITH RECURSIVE down AS (
            SELECT 1 AS depth, p.* FROM commit_provenance p WHERE p.input_commit = p_commit
            UNION
            SELECT down.depth + 1, p.*
            FROM down JOIN commit_provenance p ON p.input_commit = down.commit_id
            WHERE down.depth < p_depth
        )
        SELECT * FROM down ORDER BY 1, 3, 6
    $$;

    -- One row per (output file, input file) of every datum that ran: the direct edges.
    CREATE VIEW file_lineage AS
        SELECT o.repo, o.commit_id, o.path, o.hash, j.pipeline, j.version, o.job_id,
               o.datum_id, d.state AS datum_state, i.input_name, i.repo AS input_repo,
               i.commit_id AS input_commit, i.path AS input_path, i.hash AS input_hash
        FROM datum_outputs o
        JOIN datum_inputs i ON i.job_id = o.job_id AND i.datum_id = o.datum_id
        JOIN datums d ON d.job_id = o.job_id AND d.datum_id = o.datum_id
        JOIN jobs j ON j.id = o.job_id;

    -- Jobs with the spec version they ran.
    CREATE VIEW job_runs AS
        SELECT j.*, p.spec, p.salt
        FROM jobs j LEFT JOIN pipelines p ON p.name = j.pipeline AND p.version = j.version;

    DELETE FROM lineage_offsets;
    """
)

# Version 4: commit sets and output repos. Every commit names its set (the origin commit's
# id; facts from before commit sets count as sets of their own), every job the set it ran
# for, every repo the pipeline that owns it (None: users write it).
MIGRATIONS.append(
    """
    ALTER TABLE commits ADD COLUMN commitset text;
    UPDATE commits SET commitset = id WHERE commitset IS NULL;
    CREATE INDEX commits_commitset ON commits (commitset);
    ALTER TABLE jobs ADD COLUMN commitset text;
    CREATE INDEX jobs_commitset ON jobs (commitset) WHERE commitset IS NOT NULL;
    ALTER TABLE repos ADD COLUMN pipeline text;
    CREATE OR REPLACE VIEW started_jobs AS SELECT * FROM jobs WHERE started IS NOT NULL;
    DROP VIEW job_runs;
    CREATE VIEW job_runs AS
        SELECT j.*, p.spec, p.salt
        FROM jobs j LEFT JOIN pipelines p ON p.name = j.pipeline AND p.version = j.version;
    """
)

# Version 5: jobs by end time (running ones have none). The local worker pool asks whether a
# job runs or ended lately before it makes standby workers (their imports take a core for a
# second).
MIGRATIONS.append(
    """
    CREATE INDEX jobs_finished ON jobs (finished);
    """
)

# Version 6: jobs by the commits they read. A client's flush waits for the first ended job of
# a pipeline that read a commit or a later one of its branch: found through this index, one
# lookup per such commit, it no longer expands the inputs of every job of the pipeline
# (100,000 jobs: 290 ms a probe, several probes a flush; now 0.8 ms).
MIGRATIONS.append(
    """
    CREATE INDEX jobs_inputs ON jobs USING gin (inputs jsonb_path_ops);
    """
)

# Version 7: where squashed commits went. A squash remaps the rows that name the commit to
# its one child; rows that arrive after it (a job still running on the commit, a fact on
# another partition) are remapped as they come, from this table (the materializer keeps it
# in memory).
MIGRATIONS.append(
    """
    CREATE TABLE squashed_commits (
        commit_id text PRIMARY KEY,
        child text NOT NULL);
    CREATE INDEX squashed_commits_child ON squashed_commits (child);
    """
)

# Version 8: commit_files without its (repo, path) index. Every query of the table walks a
# commit's ancestry by commit id (the key's first column); the index served only the delete of
# a repo's files, which now finds them through the repo's commits. Its upkeep was most of a
# large commit's load: 100,000 rows by COPY took 0.65 s with it and 0.37 s without (and
# 0.97-1.27 s -> 0.53-0.78 s in the materializer, beside the blob rows), on the path of the
# commit's answer.
MIGRATIONS.append(
    """
    DROP INDEX IF EXISTS commit_files_repo_path;
    """
)
