/** `npm run reset`: stops this state dir's processes and deletes all its local state: data, logs, its Redis database and its database on the machine's PostgreSQL. */
import { existsSync, readdirSync, rmSync } from "node:fs";
import { join } from "node:path";
import { createInterface } from "node:readline/promises";
import { redactDatabaseUrl } from "#core/config";
import { parseCommandLine } from "./command-line";
import { loadLocalStackConfig, readStackChoices } from "./local/config";
import { dropMachineDatabase } from "./local/machine-postgres";
import { stopDaemon } from "./local/process";
import { flushRedisDatabase } from "./local/redis-namespace";
import { readSupervisorFile } from "./local/supervisor";

const USAGE = `Usage: npm run reset [-- --yes]

Stops every process of this state dir and deletes everything the local stack keeps:
  - the state dir (DRIFTLINE_STATE_DIR, default .driftline/): embedded Postgres data, Kafka
    data, the Worker's local R2 and queues, logs, tokens
  - this state dir's Redis database (API keys, model pointers, dedup keys, rate limits)
  - this state dir's database on the machine's PostgreSQL (driftline_<hash>), if it made one
A DATABASE_URL you set yourself is never dropped. The next npm start begins from scratch.

  --yes   do not ask for confirmation (needed when stdin is not a terminal)`;

async function main(): Promise<void> {
  const { values } = parseCommandLine({
    command: "npm run reset",
    usage: USAGE,
    options: { yes: { type: "boolean", short: "y" } },
  });
  const config = loadLocalStackConfig({ ...process.env, UPSTASH_REDIS_REST_TOKEN: "unused" });
  const stateDir = config.DRIFTLINE_STATE_DIR;
  const supervisor = readSupervisorFile(stateDir);
  if (supervisor !== undefined) {
    console.error(
      `npm start (pid ${supervisor.pid}) is running this stack: stop it with Ctrl-C first, then run npm run reset again.`,
    );
    process.exit(1);
  }
  const choices = readStackChoices(stateDir);
  console.log(`This deletes all local state of ${stateDir}:`);
  console.log(`  - processes, data and logs under ${stateDir}`);
  if (choices.REDIS_URL) console.log(`  - Redis database ${choices.REDIS_URL}`);
  if (choices.DATABASE_URL) console.log(`  - database ${redactDatabaseUrl(choices.DATABASE_URL)}`);
  if (!values.yes) {
    if (!process.stdin.isTTY) {
      console.error("Not a terminal: run `npm run reset -- --yes` to confirm.");
      process.exit(2);
    }
    const rl = createInterface({ input: process.stdin, output: process.stdout });
    const answer = await rl.question("Delete it all? [y/N] ");
    rl.close();
    if (!/^y(es)?$/i.test(answer.trim())) {
      console.log("nothing deleted");
      return;
    }
  }
  const runDir = join(stateDir, "run");
  if (existsSync(runDir)) {
    for (const file of readdirSync(runDir)) {
      if (!file.endsWith(".pid")) continue;
      const name = file.slice(0, -".pid".length);
      if (await stopDaemon(stateDir, name, 20_000)) console.log(`  stopped ${name}`);
    }
  }
  if (choices.REDIS_URL) {
    const flushed = await flushRedisDatabase(choices.REDIS_URL, stateDir).catch(
      (error: unknown) => {
        console.error(`  ! Redis ${choices.REDIS_URL} not cleared: ${(error as Error).message}`);
        return false;
      },
    );
    if (flushed) console.log(`  cleared Redis database ${choices.REDIS_URL}`);
  }
  if (choices.DATABASE_URL) {
    const dropped = await dropMachineDatabase(choices.DATABASE_URL, stateDir).catch(
      (error: unknown) => {
        console.error(`  ! database not dropped: ${(error as Error).message}`);
        return false;
      },
    );
    if (dropped) console.log(`  dropped ${redactDatabaseUrl(choices.DATABASE_URL)}`);
  }
  rmSync(stateDir, { recursive: true, force: true });
  console.log(`  deleted ${stateDir}\nreset done: the next npm start begins from scratch.`);
}

main().catch((err) => {
  console.error(err instanceof Error ? err.message : String(err));
  process.exit(1);
});
