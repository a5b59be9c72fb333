-- Up Migration
-- Bulk scoring jobs (POST /v1/score/jobs). The uploaded rows and the results live in R2 as chunk
-- objects; Postgres holds each job's state so it survives Worker restarts, can be listed per
-- tenant with a cursor, and so progress is counted exactly once per chunk: a chunk's row moves to
-- done in the same statement that adds its counts to the job, and a redelivered queue message
-- finds it done and adds nothing.

CREATE TABLE IF NOT EXISTS score_jobs (
  tenant_id     text        NOT NULL CHECK (length(tenant_id) BETWEEN 1 AND 64),
  job_id        uuid        NOT NULL,
  model         text        NOT NULL CHECK (length(model) BETWEEN 1 AND 128),
  version       text        NOT NULL CHECK (length(version) BETWEEN 1 AND 128),
  format        text        NOT NULL CHECK (format IN ('csv', 'ndjson')),
  status        text        NOT NULL CHECK (status IN ('queued', 'running', 'succeeded', 'failed', 'partial')),
  rows_total    integer     NOT NULL CHECK (rows_total >= 0),
  chunks_total  integer     NOT NULL CHECK (chunks_total >= 0),
  rows_done     integer     NOT NULL DEFAULT 0,
  chunks_done   integer     NOT NULL DEFAULT 0,
  rows_scored   integer     NOT NULL DEFAULT 0,
  rows_failed   integer     NOT NULL DEFAULT 0,
  created_at    timestamptz NOT NULL,
  started_at    timestamptz,
  finished_at   timestamptz,
  PRIMARY KEY (tenant_id, job_id)
);

-- GET /v1/score/jobs: newest first, per tenant.
CREATE INDEX IF NOT EXISTS score_jobs_tenant_created ON score_jobs (tenant_id, created_at, job_id);

CREATE TABLE IF NOT EXISTS score_job_chunks (
  tenant_id   text        NOT NULL,
  job_id      uuid        NOT NULL,
  chunk       integer     NOT NULL CHECK (chunk >= 0),
  -- Row number (1-based) of the chunk's first row in the uploaded file.
  first_row   integer     NOT NULL CHECK (first_row >= 1),
  rows        integer     NOT NULL CHECK (rows >= 0),
  status      text        NOT NULL DEFAULT 'queued' CHECK (status IN ('queued', 'done')),
  scored      integer     NOT NULL DEFAULT 0,
  failed      integer     NOT NULL DEFAULT 0,
  -- The chunk's first per-row errors ({ row, field, message }), in row order; bounded by the Worker.
  errors      jsonb       NOT NULL DEFAULT '[]'::jsonb,
  done_at     timestamptz,
  PRIMARY KEY (tenant_id, job_id, chunk),
  FOREIGN KEY (tenant_id, job_id) REFERENCES score_jobs (tenant_id, job_id) ON DELETE CASCADE
);
