-- Up Migration
-- Performance results of open windows: written from the labels known so far while a window's
-- attribution period runs, then replaced in place by the final result (provisional = false).
ALTER TABLE performance_results ADD COLUMN IF NOT EXISTS provisional boolean NOT NULL DEFAULT false;
