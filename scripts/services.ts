/** `npm run services:up|down|status`: the local services alone, and the state of every process of the stack. */
import { redactDatabaseUrl } from "#core/config";
import { parseCommandLine, usageError } from "./command-line";
import { loadLocalStackConfig } from "./local/config";
import { prepareLocalStack } from "./local/prepare-stack";
import { runningPid } from "./local/process";
import { formatMiB, processTreeRss } from "./local/rss";
import { platformProcesses, stackEnv, stackStages } from "./local/stack";
import { readSupervisorFile } from "./local/supervisor";
import { bringUp } from "./run-stack";

const USAGE = `Usage: npm run services:up | services:down | services:status

  services:up      start the local services (Redis REST, Postgres, Kafka, gateway, Worker) and
                   leave them running, without the stream processor; npm test reuses them
  services:down    stop every process of this state dir (${"DRIFTLINE_STATE_DIR"})
  services:status  every process of the stack: state, pid, restarts, memory, address`;

const COMMANDS = ["up", "down", "status"] as const;
type Command = (typeof COMMANDS)[number];

async function main(): Promise<void> {
  const { positionals } = parseCommandLine({
    command: "npm run services:status",
    usage: USAGE,
    options: {},
    allowPositionals: true,
  });
  const command = (positionals[0] ?? "status") as Command;
  if (!COMMANDS.includes(command)) {
    usageError(
      { command: "npm run services:status", options: {} },
      `unknown command "${command}"; use up, down or status`,
    );
  }
  switch (command) {
    case "up": {
      console.log(
        "starting local services (they keep running; `npm run services:down` stops them)",
      );
      await bringUp(stackStages(await prepareLocalStack()));
      return;
    }
    case "down": {
      const config = loadLocalStackConfig();
      const all = [...stackStages(config), platformProcesses(config, stackEnv(config))].flat();
      for (const service of all.reverse()) {
        await service.down();
        console.log(`  ${service.name} stopped`);
      }
      return;
    }
    case "status":
      await printStatus();
  }
}

async function printStatus(): Promise<void> {
  const config = loadLocalStackConfig();
  const stateDir = config.DRIFTLINE_STATE_DIR;
  const supervised = readSupervisorFile(stateDir);
  const services = [...stackStages(config).flat(), ...platformProcesses(config, stackEnv(config))];
  console.log(
    supervised
      ? `npm start (pid ${supervised.pid}) supervises this stack since ${supervised.startedAt}`
      : "no npm start supervises this stack (services started by services:up or npm test are not restarted)",
  );
  console.log(`state dir ${stateDir}\n`);
  console.log(
    `  ${"process".padEnd(23)}${"state".padEnd(12)}${"pids".padEnd(16)}${"restarts".padEnd(10)}${"memory".padEnd(10)}address`,
  );
  let total = 0;
  let problems = 0;
  for (const service of services) {
    const pids = (service.processes ?? [])
      .map((p) => runningPid(stateDir, p))
      .filter((pid): pid is number => pid !== undefined);
    const ready = await service.isReady();
    const child = supervised?.children.find((c) => c.name === service.name);
    let state: string = ready ? (pids.length > 0 ? "ready" : "reused") : "down";
    if (child?.state === "restarting") state = "restarting";
    if (!ready && state !== "restarting") problems += 1;
    const rss = pids.length > 0 ? processTreeRss(pids)?.totalBytes : undefined;
    total += rss ?? 0;
    const lastExit = child?.lastExit
      ? `   last exit ${child.lastExit.signal ?? `code ${child.lastExit.code}`} at ${child.lastExit.at}`
      : "";
    console.log(
      `  ${service.name.padEnd(23)}${state.padEnd(12)}${(pids.join(",") || "-").padEnd(16)}${String(child?.restarts ?? "-").padEnd(10)}${(rss === undefined ? "-" : formatMiB(rss)).padEnd(10)}${urlOf(service.name, config)}${lastExit}`,
    );
  }
  console.log(`\n  processes of this state dir: ${formatMiB(total)} RSS`);
  if (problems > 0) {
    console.log(
      `\n${problems} part(s) down. Logs: ${stateDir}/logs/. Start everything with npm start.`,
    );
    process.exitCode = 1;
  }
}

function urlOf(name: string, config: ReturnType<typeof loadLocalStackConfig>): string {
  const env = stackEnv(config);
  const urls: Record<string, string> = {
    "upstash-rest": env.UPSTASH_REDIS_REST_URL!,
    postgres: redactDatabaseUrl(env.DATABASE_URL!),
    kafka: env.KAFKA_BROKERS!,
    "kafka-rest-gateway": env.KAFKA_REST_URL!,
    worker: env.WORKER_URL!,
    "stream-processor": `http://127.0.0.1:${config.STREAM_API_PORT}`,
  };
  return urls[name] ?? "";
}

main().catch((err) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
