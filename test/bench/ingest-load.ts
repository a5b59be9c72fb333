/** The ingest benchmark's load and CPU accounting: requests with fresh event ids, throughput, latencies. */
import { readdirSync, readFileSync } from "node:fs";
import { processCpuMs } from "./bench-support";
import { type Scenario, UA } from "./ingest-workload";

/** The workerd processes Miniflare started for this benchmark (children of this process). */
export function workerdPids(): number[] {
  try {
    return readdirSync("/proc")
      .filter((d) => /^\d+$/.test(d))
      .map(Number)
      .filter((pid) => {
        try {
          const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
          const comm = stat.slice(stat.indexOf("(") + 1, stat.lastIndexOf(")"));
          const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
          return comm === "workerd" && ppid === process.pid;
        } catch {
          return false;
        }
      });
  } catch {
    return [];
  }
}

export function cpuMsOf(pids: readonly number[]): number | undefined {
  let total = 0;
  for (const pid of pids) {
    const ms = processCpuMs(pid);
    if (ms === undefined) return undefined;
    total += ms;
  }
  return pids.length > 0 ? total : undefined;
}

let requestCounter = 0;

export async function send(base: string, key: string, s: Scenario): Promise<void> {
  requestCounter += 1;
  const res = await fetch(base + s.path, {
    method: "POST",
    headers: {
      authorization: `Bearer ${key}`,
      "content-type": "application/json",
      "user-agent": UA,
      "cf-connecting-ip": "198.51.100.7",
    },
    body: s.template.join(`r${requestCounter}`),
  });
  const text = await res.text();
  if (res.status !== 202) throw new Error(`${s.name} → ${res.status}: ${text.slice(0, 500)}`);
  const accepted = (JSON.parse(text) as { accepted: number }).accepted;
  if (accepted !== s.batch)
    throw new Error(`${s.name}: ${accepted} of ${s.batch} accepted: ${text.slice(0, 500)}`);
}

/**
 * Requests and events per second with `concurrency` callers for `seconds`, and the CPU time the
 * workerd process and the Upstash REST server spent per event meanwhile.
 */
export async function throughput(
  base: string,
  key: string,
  s: Scenario,
  pids: CpuPids,
  { seconds: runSeconds, concurrency }: { seconds: number; concurrency: number },
) {
  const workerdBefore = cpuMsOf(pids.workerd);
  const upstashBefore = cpuMsOf(pids.upstash);
  const started = performance.now();
  const until = started + runSeconds * 1000;
  let requests = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (performance.now() < until) {
        await send(base, key, s);
        requests++;
      }
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  const events = requests * s.batch;
  const perEventUs = (before: number | undefined, after: number | undefined) =>
    before === undefined || after === undefined ? undefined : ((after - before) * 1000) / events;
  return {
    requestsPerSecond: requests / seconds,
    eventsPerSecond: events / seconds,
    workerdUsPerEvent: perEventUs(workerdBefore, cpuMsOf(pids.workerd)),
    upstashUsPerEvent: perEventUs(upstashBefore, cpuMsOf(pids.upstash)),
  };
}

/**
 * The no-op request measured the same way: `GET /health` with `concurrency` callers for
 * `seconds`, and the workerd process's CPU per request meanwhile.
 */
export async function noopThroughput(
  base: string,
  pids: CpuPids,
  { seconds: runSeconds, concurrency }: { seconds: number; concurrency: number },
) {
  const before = cpuMsOf(pids.workerd);
  const started = performance.now();
  const until = started + runSeconds * 1000;
  let requests = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (performance.now() < until) {
        const res = await fetch(`${base}/health`, { headers: { "user-agent": UA } });
        if (!res.ok) throw new Error(`GET /health → ${res.status}`);
        await res.arrayBuffer();
        requests++;
      }
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  const after = cpuMsOf(pids.workerd);
  return {
    requestsPerSecond: requests / seconds,
    workerdUsPerRequest:
      before === undefined || after === undefined
        ? undefined
        : ((after - before) * 1000) / requests,
  };
}

export interface CpuPids {
  workerd: number[];
  upstash: number[];
}

export async function sequentialLatencies(base: string, key: string, s: Scenario, n: number) {
  const samples: number[] = [];
  for (let i = 0; i < n; i++) {
    const t = performance.now();
    await send(base, key, s);
    samples.push(performance.now() - t);
  }
  return samples.sort((a, b) => a - b);
}
