/** Background processes of the local stack: pid files, log files, readiness polling, stopping. */
import { spawn } from "node:child_process";
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";

export interface DaemonSpec {
  /** Short name used for the pid and log files, e.g. `kafka`. */
  name: string;
  command: string;
  args: string[];
  env?: NodeJS.ProcessEnv;
  cwd?: string;
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
    child.unref();
    writeFileSync(pidFile(stateDir, spec.name), String(child.pid));
    return child.pid;
  } finally {
    closeSync(log);
  }
}

/** Sends SIGTERM to the daemon's process group, then SIGKILL after `graceMs`. */
export async function stopDaemon(stateDir: string, name: string, graceMs = 10_000): Promise<boolean> {
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
