/** Background processes of the local stack: pid files, log files, readiness polling, stopping. */
import { spawn } from "node:child_process";
import { EventEmitter } from "node:events";
import {
  closeSync,
  existsSync,
  mkdirSync,
  openSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { connect } from "node:net";
import { join, resolve } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { ConfigError } from "#core/errors";
import type { LocalService, ServiceEndpoint } from "./service";

const REPO_ROOT = resolve(import.meta.dirname, "../..");

/** What to run for a daemon. */
export interface DaemonCommand {
  command: string;
  args: string[];
  env?: NodeJS.ProcessEnv;
  cwd?: string;
}

export interface DaemonSpec extends DaemonCommand {
  /** Short name used for the pid and log files, e.g. `kafka`. */
  name: string;
}

export interface StateDirs {
  runDir: string;
  logDir: string;
}

export function stateDirs(stateDir: string): StateDirs {
  const runDir = join(stateDir, "run");
  const logDir = join(stateDir, "logs");
  mkdirSync(runDir, { recursive: true });
  mkdirSync(logDir, { recursive: true });
  return { runDir, logDir };
}

export function logFile(stateDir: string, name: string): string {
  return join(stateDirs(stateDir).logDir, `${name}.log`);
}

function pidFile(stateDir: string, name: string): string {
  return join(stateDirs(stateDir).runDir, `${name}.pid`);
}

export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** The pid of a daemon started earlier that is still alive, or undefined. */
export function runningPid(stateDir: string, name: string): number | undefined {
  const file = pidFile(stateDir, name);
  if (!existsSync(file)) return undefined;
  const pid = Number(readFileSync(file, "utf8").trim());
  if (Number.isInteger(pid) && pid > 0 && isAlive(pid)) return pid;
  rmSync(file, { force: true });
  return undefined;
}

/** How a daemon this process started ended: `code` null when a signal ended it. */
export interface DaemonExit {
  name: string;
  pid: number;
  code: number | null;
  signal: NodeJS.Signals | null;
  /** True when stopDaemon (this process) asked it to stop: not a failure to report. */
  requested: boolean;
}

/** Pids this process is stopping through stopDaemon. */
const stopping = new Set<number>();

/**
 * Emits `exit` (a DaemonExit) whenever a daemon started by this process ends, expectedly or
 * not: the supervisor of `npm start` listens here.
 */
export const daemonExits = new EventEmitter<{ exit: [DaemonExit] }>();

/**
 * Starts a detached process in its own process group (so stopping it also stops its children),
 * output appended to `<state>/logs/<name>.log`, pid in `<state>/run/<name>.pid`.
 */
export function startDaemon(stateDir: string, spec: DaemonSpec): number {
  const log = openSync(logFile(stateDir, spec.name), "a");
  try {
    const child = spawn(spec.command, spec.args, {
      cwd: spec.cwd,
      env: spec.env ?? process.env,
      detached: true,
      stdio: ["ignore", log, log],
    });
    if (child.pid === undefined) throw new Error(`could not start ${spec.name}: ${spec.command}`);
    const pid = child.pid;
    child.on("exit", (code, signal) => {
      const requested = stopping.delete(pid);
      daemonExits.emit("exit", { name: spec.name, pid, code, signal, requested });
    });
    child.unref();
    writeFileSync(pidFile(stateDir, spec.name), String(pid));
    return pid;
  } finally {
    closeSync(log);
  }
}

/** Sends SIGTERM to the daemon's process group, then SIGKILL after `graceMs`. */
export async function stopDaemon(
  stateDir: string,
  name: string,
  graceMs = 10_000,
): Promise<boolean> {
  const pid = runningPid(stateDir, name);
  if (pid === undefined) return false;
  const signalGroup = (signal: NodeJS.Signals) => {
    try {
      process.kill(-pid, signal);
    } catch {
      try {
        process.kill(pid, signal);
      } catch {
        // already gone
      }
    }
  };
  stopping.add(pid);
  signalGroup("SIGTERM");
  const deadline = Date.now() + graceMs;
  while (isAlive(pid) && Date.now() < deadline) await sleep(100);
  if (isAlive(pid)) signalGroup("SIGKILL");
  rmSync(pidFile(stateDir, name), { force: true });
  return true;
}

/**
 * Polls `check` until it resolves true. Fails with `describe()` (what is missing and where its
 * log is) after `timeoutMs`, or early when `stillAlive` says the process died.
 */
export async function waitUntilReady(options: {
  name: string;
  check: () => Promise<boolean>;
  timeoutMs: number;
  intervalMs?: number;
  stillAlive?: () => boolean;
  describe?: () => string;
}): Promise<void> {
  const deadline = Date.now() + options.timeoutMs;
  while (Date.now() < deadline) {
    if (await options.check().catch(() => false)) return;
    if (options.stillAlive && !options.stillAlive()) {
      throw new Error(`${options.name} exited before it was ready. ${options.describe?.() ?? ""}`);
    }
    await sleep(options.intervalMs ?? 250);
  }
  throw new Error(
    `${options.name} was not ready after ${options.timeoutMs} ms. ${options.describe?.() ?? ""}`,
  );
}

/** The last lines of a log file, for error messages. */
export function tailLog(file: string, lines = 20): string {
  if (!existsSync(file)) return "";
  return readFileSync(file, "utf8").trimEnd().split("\n").slice(-lines).join("\n");
}

/**
 * A TypeScript entry run by the Node running this script (v22 from npm) with tsx as a loader:
 * one process, no tsx CLI, no build step. `env` is added to this process's environment.
 */
export function tsxDaemon(
  script: string,
  options: { args?: readonly string[]; env?: Record<string, string> } = {},
): DaemonCommand {
  return {
    command: process.execPath,
    args: ["--import", "tsx", script, ...(options.args ?? [])],
    cwd: REPO_ROOT,
    env: { ...process.env, ...options.env },
  };
}

export interface DaemonServiceOptions {
  /** Pid and log file name, and the service's name in `npm start`'s table. */
  name: string;
  /** Says what is starting in error messages, e.g. `Kafka` or `PGlite on 127.0.0.1:5499`. */
  label: string;
  /** What `up()` resolves to. */
  url: string;
  stateDir: string;
  /** Must resolve false, not reject, when the service does not answer. */
  isReady: () => Promise<boolean>;
  /**
   * Called only when this `up()` starts the daemon: prepares what the start needs (jars,
   * storage, topics) and says what to run. A rejection fails `up()` before anything is spawned.
   */
  spawn: () => DaemonCommand | Promise<DaemonCommand>;
  readyTimeoutMs: number;
  /** Readiness poll interval; 250 ms unless given. */
  readyIntervalMs?: number;
  /** SIGTERM first, SIGKILL after this long. */
  stopGraceMs: number;
  /** Put before the log tail when the daemon fails to become ready: what to check first. */
  hint?: string;
  /**
   * Hold an exclusive start marker while starting, so two processes calling `up()` at once
   * spawn one daemon (the other waits for it); for daemons whose start takes seconds.
   */
  startLock?: boolean;
  /**
   * The TCP port it listens on and the variable that sets it: when the port is taken by a
   * program that does not pass `isReady`, `up()` fails at once with one line naming both.
   */
  port?: { number: number; variable: string };
  /** Runs once the service is ready, started or reused; a rejection fails `up()`. */
  afterReady?: (endpoint: ServiceEndpoint) => void | Promise<void>;
}

/**
 * A `LocalService` run as a detached daemon: `up()` reuses an instance that answers
 * (startedHere false), waits for one an earlier `up()` of this state dir is still booting
 * (startedHere false), or spawns one and waits until it is ready (startedHere true). `down()`
 * stops the daemon of this state dir only, so a reused instance of another stack keeps running.
 */
export function daemonService(options: DaemonServiceOptions): LocalService {
  const { name, url, stateDir, isReady } = options;

  const waitFor = (pid: number | undefined) =>
    waitUntilReady({
      name: options.label,
      check: isReady,
      timeoutMs: options.readyTimeoutMs,
      intervalMs: options.readyIntervalMs,
      // Gone, or its pid file removed (down() meanwhile): it will not become ready.
      stillAlive: pid === undefined ? undefined : () => runningPid(stateDir, name) === pid,
      describe: () => {
        const log = logFile(stateDir, name);
        return `${options.hint ? `${options.hint} ` : ""}Log ${log}:\n${tailLog(log)}`;
      },
    });
  const ready = async (startedHere: boolean): Promise<ServiceEndpoint> => {
    const endpoint = { url, startedHere };
    await options.afterReady?.(endpoint);
    return endpoint;
  };

  return {
    name,
    processes: [name],
    isReady,
    async up() {
      if (await isReady()) return ready(false);
      const earlier = runningPid(stateDir, name);
      if (earlier !== undefined) {
        await waitFor(earlier);
        return ready(false);
      }
      const lock = options.startLock ? acquireStartLock(stateDir, name) : { release() {} };
      if (!lock) {
        // Another process is starting it right now; its pid file may not exist yet.
        await waitFor(undefined);
        return ready(false);
      }
      try {
        // Re-checked under the lock: a start that finished meanwhile released it already.
        if (options.startLock && (await isReady())) return ready(false);
        if (options.port !== undefined && (await portTaken(options.port.number))) {
          throw new ConfigError(
            `Port ${options.port.number} is taken by another program, so ${options.label} cannot start: stop that program or set ${options.port.variable} to a free port.`,
          );
        }
        const pid = startDaemon(stateDir, { name, ...(await options.spawn()) });
        try {
          await waitFor(pid);
        } catch (error) {
          // A daemon that never became ready is not left behind for the next start to reuse.
          await stopDaemon(stateDir, name, options.stopGraceMs);
          throw error;
        }
        return await ready(true);
      } finally {
        lock.release();
      }
    },
    async down() {
      await stopDaemon(stateDir, name, options.stopGraceMs);
    },
  };
}

/** True when something accepts TCP connections on 127.0.0.1:`port`. */
export function portTaken(port: number, timeoutMs = 1_000): Promise<boolean> {
  return new Promise((resolvePromise) => {
    const socket = connect({ host: "127.0.0.1", port });
    const done = (taken: boolean) => {
      socket.destroy();
      resolvePromise(taken);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once("connect", () => done(true));
    socket.once("error", () => done(false));
  });
}

/**
 * An exclusive "starting" marker per service, so two processes calling `up()` at once do not
 * both spawn a daemon (the loser would overwrite the winner's pid file). Undefined when another
 * process holds it; a marker older than `staleMs` is left over from a crash and is taken over.
 */
function acquireStartLock(
  stateDir: string,
  name: string,
  staleMs = 120_000,
): { release: () => void } | undefined {
  const path = join(stateDirs(stateDir).runDir, `${name}.starting`);
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      closeSync(openSync(path, "wx"));
      return { release: () => rmSync(path, { force: true }) };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
      const mtimeMs = statSync(path, { throwIfNoEntry: false })?.mtimeMs;
      if (mtimeMs !== undefined && Date.now() - mtimeMs < staleMs) return undefined;
      rmSync(path, { force: true });
    }
  }
  return undefined;
}
