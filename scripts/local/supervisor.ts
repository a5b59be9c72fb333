/**
 * Supervision of what `npm start` started: a daemon that exits is reported at once (name, exit
 * code or signal, the last lines of its log) and started again with exponential back-off; the
 * state of every process is written to `<state>/run/supervisor.json` for `services:status`.
 * Generic over LocalService: a new long-running part of the stack is one more service.
 */
import { existsSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import {
  type DaemonExit,
  daemonExits,
  isAlive,
  logFile,
  runningPid,
  stateDirs,
  tailLog,
} from "./process";
import type { LocalService } from "./service";

export type ChildState = "running" | "reused" | "restarting" | "stopped";

export interface ChildStatus {
  name: string;
  url: string;
  state: ChildState;
  /** The pids of its daemons (of this state dir), when running. */
  pids: number[];
  restarts: number;
  lastExit?: { process: string; code: number | null; signal: string | null; at: string };
}

export interface SupervisorFile {
  /** The `npm start` process that supervises; its children are only supervised while it lives. */
  pid: number;
  startedAt: string;
  children: ChildStatus[];
}

export interface BackoffOptions {
  /** First restart delay, doubled per consecutive failure up to `maxMs`. */
  initialMs: number;
  maxMs: number;
  /** A child up this long again has its back-off reset. */
  stableMs: number;
}

export const DEFAULT_BACKOFF: BackoffOptions = {
  initialMs: 1_000,
  maxMs: 30_000,
  stableMs: 60_000,
};

/** Log lines shown when a child exits. */
const TAIL_LINES = 12;

export function supervisorFile(stateDir: string): string {
  return join(stateDirs(stateDir).runDir, "supervisor.json");
}

/** The supervisor file of a live `npm start` for this state dir, else undefined. */
export function readSupervisorFile(stateDir: string): SupervisorFile | undefined {
  const file = supervisorFile(stateDir);
  if (!existsSync(file)) return undefined;
  try {
    const parsed = JSON.parse(readFileSync(file, "utf8")) as SupervisorFile;
    return isAlive(parsed.pid) ? parsed : undefined;
  } catch {
    return undefined;
  }
}

interface Entry {
  service: LocalService;
  url: string;
  startedHere: boolean;
  state: ChildState;
  restarts: number;
  /** Consecutive failed restarts, for the back-off. */
  failures: number;
  upSince: number;
  restarting?: Promise<void>;
  lastExit?: ChildStatus["lastExit"];
}

export interface Supervisor {
  /** Adds a service that is up (started here or reused); only those started here are restarted. */
  add(service: LocalService, endpoint: { url: string; startedHere: boolean }): void;
  status(): ChildStatus[];
  /** Stops supervising (before the stack is stopped, so the exits are not restarts). */
  stop(): void;
}

export function createSupervisor(options: {
  stateDir: string;
  log: (line: string) => void;
  backoff?: BackoffOptions;
}): Supervisor {
  const { stateDir, log } = options;
  const backoff = options.backoff ?? DEFAULT_BACKOFF;
  const entries: Entry[] = [];
  const startedAt = new Date().toISOString();
  let stopped = false;

  const status = (): ChildStatus[] =>
    entries.map((e) => ({
      name: e.service.name,
      url: e.url,
      state: e.state,
      pids: (e.service.processes ?? [])
        .map((p) => runningPid(stateDir, p))
        .filter((pid): pid is number => pid !== undefined),
      restarts: e.restarts,
      ...(e.lastExit === undefined ? {} : { lastExit: e.lastExit }),
    }));

  const persist = () => {
    const file = supervisorFile(stateDir);
    const body: SupervisorFile = { pid: process.pid, startedAt, children: status() };
    writeFileSync(`${file}.tmp`, `${JSON.stringify(body, null, 2)}\n`);
    renameSync(`${file}.tmp`, file);
  };

  const restart = async (entry: Entry) => {
    while (!stopped) {
      if (Date.now() - entry.upSince >= backoff.stableMs) entry.failures = 0;
      const delayMs = Math.min(backoff.maxMs, backoff.initialMs * 2 ** entry.failures);
      log(`  ↻ restarting ${entry.service.name} in ${(delayMs / 1000).toFixed(0)} s`);
      await sleep(delayMs);
      if (stopped) return;
      const t0 = performance.now();
      try {
        await entry.service.up();
        entry.restarts += 1;
        entry.state = "running";
        entry.upSince = Date.now();
        log(
          `  ✓ ${entry.service.name} is back (restart ${entry.restarts}, ready in ${Math.round(performance.now() - t0)} ms)`,
        );
        persist();
        return;
      } catch (error) {
        entry.failures += 1;
        entry.upSince = Date.now();
        log(
          `  ✗ restarting ${entry.service.name} failed: ${(error instanceof Error ? error.message : String(error)).split("\n")[0]}`,
        );
      }
    }
  };

  const onExit = (exit: DaemonExit) => {
    if (stopped || exit.requested) return;
    const entry = entries.find(
      (e) => e.startedHere && (e.service.processes ?? []).includes(exit.name),
    );
    if (!entry || entry.restarting) return;
    const how = exit.signal === null ? `exit code ${exit.code}` : `signal ${exit.signal}`;
    const log_ = logFile(stateDir, exit.name);
    const tail = tailLog(log_, TAIL_LINES)
      .split("\n")
      .map((line) => `      ${line}`)
      .join("\n");
    log(
      `\n! ${entry.service.name} (${exit.name}, pid ${exit.pid}) exited: ${how}. Last lines of ${log_}:\n${tail}`,
    );
    entry.state = "restarting";
    entry.failures += Date.now() - entry.upSince < backoff.stableMs ? 1 : 0;
    entry.lastExit = {
      process: exit.name,
      code: exit.code,
      signal: exit.signal,
      at: new Date().toISOString(),
    };
    persist();
    entry.restarting = restart(entry).finally(() => {
      entry.restarting = undefined;
    });
  };
  daemonExits.on("exit", onExit);

  return {
    add(service, endpoint) {
      entries.push({
        service,
        url: endpoint.url,
        startedHere: endpoint.startedHere,
        state: endpoint.startedHere ? "running" : "reused",
        restarts: 0,
        failures: 0,
        upSince: Date.now(),
      });
      persist();
    },
    status,
    stop() {
      stopped = true;
      daemonExits.off("exit", onExit);
      for (const entry of entries) entry.state = "stopped";
      persist();
    },
  };
}
