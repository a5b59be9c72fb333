/** Runs the `driftline` command as a process (node + tsx's loader, so a SIGKILL reaches it). */
import { type ChildProcess, spawn } from "node:child_process";
import { resolve } from "node:path";

const MAIN = resolve(import.meta.dirname, "../../scripts/cli/main.ts");

export interface CliRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Starts `driftline <args>`; `done` resolves when it exits. Kill `child` to interrupt it. */
export function startDriftline(
  args: readonly string[],
  env: Record<string, string> = {},
): { child: ChildProcess; done: Promise<CliRun> } {
  const child = spawn(process.execPath, ["--import", "tsx", MAIN, ...args], {
    env: { ...process.env, ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stdout = "";
  let stderr = "";
  child.stdout?.on("data", (d: Buffer) => (stdout += d.toString()));
  child.stderr?.on("data", (d: Buffer) => (stderr += d.toString()));
  const done = new Promise<CliRun>((resolvePromise, reject) => {
    child.on("error", reject);
    child.on("close", (code) => resolvePromise({ code, stdout, stderr }));
  });
  return { child, done };
}

export function driftline(
  args: readonly string[],
  env: Record<string, string> = {},
): Promise<CliRun> {
  return startDriftline(args, env).done;
}
