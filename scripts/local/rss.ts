/** Resident memory of process trees, read from /proc (Linux); undefined where /proc is missing. */
import { existsSync, readdirSync, readFileSync } from "node:fs";

interface ProcInfo {
  ppid: number;
  rssBytes: number;
  command: string;
}

function readProc(pid: number): ProcInfo | undefined {
  try {
    const status = readFileSync(`/proc/${pid}/status`, "utf8");
    const ppid = Number(/^PPid:\s+(\d+)/m.exec(status)?.[1] ?? "0");
    // Kernel threads and zombies have no VmRSS line.
    const rssKb = Number(/^VmRSS:\s+(\d+) kB/m.exec(status)?.[1] ?? "0");
    const command = /^Name:\s+(.*)$/m.exec(status)?.[1] ?? "?";
    return { ppid, rssBytes: rssKb * 1024, command };
  } catch {
    return undefined;
  }
}

function allProcs(): Map<number, ProcInfo> {
  const procs = new Map<number, ProcInfo>();
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    const info = readProc(Number(entry));
    if (info) procs.set(Number(entry), info);
  }
  return procs;
}

export interface TreeRss {
  /** Summed RSS of every process in the trees, bytes (shared pages counted once per process). */
  totalBytes: number;
  processes: number;
  /** Per root pid, the summed RSS of its tree. */
  byRoot: Map<number, number>;
}

/** Sums the RSS of each root and all its descendants (each process counted once). */
export function processTreeRss(roots: readonly number[]): TreeRss | undefined {
  if (!existsSync("/proc/self/status")) return undefined;
  const procs = allProcs();
  const children = new Map<number, number[]>();
  for (const [pid, info] of procs) {
    const siblings = children.get(info.ppid) ?? [];
    siblings.push(pid);
    children.set(info.ppid, siblings);
  }
  const counted = new Set<number>();
  const byRoot = new Map<number, number>();
  let totalBytes = 0;
  for (const root of roots) {
    let rootBytes = 0;
    const queue = [root];
    while (queue.length > 0) {
      const pid = queue.pop()!;
      if (counted.has(pid)) continue;
      const info = procs.get(pid);
      if (!info) continue;
      counted.add(pid);
      rootBytes += info.rssBytes;
      queue.push(...(children.get(pid) ?? []));
    }
    byRoot.set(root, rootBytes);
    totalBytes += rootBytes;
  }
  return { totalBytes, processes: counted.size, byRoot };
}

/** The npm (and shell) processes that launched this one, so `npm start`'s own weight is counted. */
export function launcherAncestors(pid = process.pid): number[] {
  const out: number[] = [];
  let current = readProc(pid)?.ppid;
  while (current !== undefined && current > 1 && out.length < 3) {
    const info = readProc(current);
    if (!info || !/^(npm|node|sh|bash|dash)/.test(info.command)) break;
    if (info.command.startsWith("bash")) break;
    out.push(current);
    current = info.ppid;
  }
  return out;
}

export function formatMiB(bytes: number): string {
  return `${Math.round(bytes / 1024 / 1024)} MiB`;
}
