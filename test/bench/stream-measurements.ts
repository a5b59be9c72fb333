/** What the stream benchmark samples: process CPU and RSS, Postgres WAL counters, Prometheus latency means. */
import { readFileSync } from "node:fs";
import type pg from "pg";
import { processCpuMs } from "./bench-support";

/** CPU time (user + system) a process has used, ms; 0 once it is gone. */
export function cpuMs(pid: number): number {
  return processCpuMs(pid) ?? 0;
}

export function rssBytes(pid: number): number {
  try {
    const match = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
    return match ? Number(match[1]) * 1024 : 0;
  } catch {
    return 0;
  }
}

/** Postgres' WAL counters since the last stats reset (pg_stat_wal, Postgres 14+); undefined before 14. */
export async function walStats(
  db: pg.Pool,
): Promise<{ records: number; fullPages: number; bytes: number } | undefined> {
  try {
    const { rows } = await db.query<{ records: string; fpi: string; bytes: string }>(
      "SELECT wal_records::text AS records, wal_fpi::text AS fpi, wal_bytes::text AS bytes FROM pg_stat_wal",
    );
    const row = rows[0];
    if (row === undefined) return undefined;
    return { records: Number(row.records), fullPages: Number(row.fpi), bytes: Number(row.bytes) };
  } catch {
    return undefined;
  }
}

/** Mean latency per operation (ms) and count from a Prometheus histogram's _sum and _count. */
export function histogramMeans(
  exposition: string,
  name: string,
  label: string,
): Map<string, { meanMs: number; count: number }> {
  const sums = new Map<string, number>();
  const counts = new Map<string, number>();
  const re = new RegExp(
    `^${name}_(sum|count)\\{[^}]*${label}="([^"]+)"[^}]*\\} ([0-9.e+-]+)$`,
    "gm",
  );
  // Several expositions may be concatenated (one per instance): their series add up.
  for (const m of exposition.matchAll(re)) {
    const into = m[1] === "sum" ? sums : counts;
    into.set(m[2]!, (into.get(m[2]!) ?? 0) + Number(m[3]));
  }
  const out = new Map<string, { meanMs: number; count: number }>();
  for (const [k, c] of counts)
    if (c > 0) out.set(k, { meanMs: ((sums.get(k) ?? 0) / c) * 1000, count: c });
  return out;
}
