/** The supervisor of `npm start` with real processes: a killed daemon is reported with its log and restarted. */
import { mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { afterAll, describe, expect, it } from "vitest";
import { daemonService, runningPid } from "./process";
import type { LocalService } from "./service";
import { createSupervisor, readSupervisorFile } from "./supervisor";

const stateDir = mkdtempSync(join(tmpdir(), "driftline-supervisor-"));
const services: LocalService[] = [];

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((done) => server.listen(0, "127.0.0.1", done));
  const address = server.address();
  await new Promise<void>((done) => server.close(() => done()));
  if (typeof address !== "object" || address === null) throw new Error("no port");
  return address.port;
}

/** A tiny HTTP daemon that logs a line when it starts. */
function httpDaemon(name: string, port: number): LocalService {
  const script = `require("node:http").createServer((q, s) => s.end("ok")).listen(${port}, "127.0.0.1", () => console.log("${name} listening on ${port}"));`;
  const service = daemonService({
    name,
    label: name,
    url: `http://127.0.0.1:${port}`,
    stateDir,
    port: { number: port, variable: "TEST_PORT" },
    isReady: async () => {
      try {
        return (await fetch(`http://127.0.0.1:${port}`, { signal: AbortSignal.timeout(500) })).ok;
      } catch {
        return false;
      }
    },
    spawn: () => ({ command: process.execPath, args: ["-e", script] }),
    readyTimeoutMs: 10_000,
    readyIntervalMs: 50,
    stopGraceMs: 2_000,
  });
  services.push(service);
  return service;
}

async function until(what: string, check: () => boolean, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}

afterAll(async () => {
  for (const service of services) await service.down();
  rmSync(stateDir, { recursive: true, force: true });
});

describe("createSupervisor", () => {
  it("reports a SIGKILLed child with its exit and log tail, restarts it, and records it for services:status", async () => {
    const lines: string[] = [];
    const supervisor = createSupervisor({
      stateDir,
      log: (line) => lines.push(line),
      backoff: { initialMs: 100, maxMs: 1_000, stableMs: 60_000 },
    });
    try {
      const service = httpDaemon("probe", await freePort());
      supervisor.add(service, await service.up());
      const first = runningPid(stateDir, "probe")!;
      process.kill(first, "SIGKILL");

      await until("the restart", () => lines.some((l) => l.includes("probe is back")));
      const report = lines.join("\n");
      expect(report).toMatch(/! probe \(probe, pid \d+\) exited: signal SIGKILL/);
      expect(report).toMatch(/probe listening on \d+/);
      const second = runningPid(stateDir, "probe");
      expect(second).toBeDefined();
      expect(second).not.toBe(first);
      expect(await service.isReady()).toBe(true);

      const file = readSupervisorFile(stateDir);
      expect(file?.pid).toBe(process.pid);
      expect(file?.children).toEqual([
        expect.objectContaining({
          name: "probe",
          state: "running",
          restarts: 1,
          lastExit: expect.objectContaining({ signal: "SIGKILL", code: null }),
        }),
      ]);
    } finally {
      supervisor.stop();
    }
  });

  it("does not report or restart a child stopped on purpose (a failed start, Ctrl-C)", async () => {
    const lines: string[] = [];
    const supervisor = createSupervisor({
      stateDir,
      log: (line) => lines.push(line),
      backoff: { initialMs: 50, maxMs: 100, stableMs: 60_000 },
    });
    const service = httpDaemon("stopped-probe", await freePort());
    supervisor.add(service, await service.up());
    try {
      // Still supervising: the stop was asked for, so it is no failure.
      await service.down();
      await sleep(300);
      expect(lines).toEqual([]);
      expect(runningPid(stateDir, "stopped-probe")).toBeUndefined();
    } finally {
      supervisor.stop();
    }
  });

  it("refuses, in one line, a port another program holds", async () => {
    const blocker = createServer();
    await new Promise<void>((done) => blocker.listen(0, "127.0.0.1", done));
    const port = (blocker.address() as { port: number }).port;
    try {
      // The blocker does not answer HTTP, so the service is not "ready" there.
      const service = httpDaemon("blocked", port);
      await expect(service.up()).rejects.toThrow(
        `Port ${port} is taken by another program, so blocked cannot start: stop that program or set TEST_PORT to a free port.`,
      );
    } finally {
      blocker.close();
    }
  });

  it("a start that never becomes ready leaves no process behind", async () => {
    const service = daemonService({
      name: "never-ready",
      label: "never-ready",
      url: "n/a",
      stateDir,
      isReady: async () => false,
      spawn: () => ({ command: process.execPath, args: ["-e", "setInterval(() => {}, 1000)"] }),
      readyTimeoutMs: 500,
      stopGraceMs: 2_000,
    });
    await expect(service.up()).rejects.toThrow(/never-ready was not ready after 500 ms/);
    expect(runningPid(stateDir, "never-ready")).toBeUndefined();
  });
});
