/** `npm run services:up|down|status`: the local services alone, without the Driftline processes. */
import { loadLocalStackConfig } from "./local/config";
import { stackStages } from "./local/stack";
import { bringUp } from "./run-stack";

const command = process.argv[2] ?? "status";
const config = loadLocalStackConfig();
const stages = stackStages(config);
const services = stages.flat();

async function main(): Promise<void> {
  switch (command) {
    case "up": {
      console.log(
        "starting local services (they keep running; `npm run services:down` stops them)",
      );
      await bringUp(stages);
      return;
    }
    case "down": {
      for (const service of [...services].reverse()) {
        await service.down();
        console.log(`  ${service.name} stopped`);
      }
      return;
    }
    case "status": {
      for (const service of services) {
        const ready = await service.isReady();
        console.log(`  ${service.name.padEnd(14)} ${ready ? "ready" : "down"}`);
      }
      return;
    }
    default:
      throw new Error(`Unknown command "${command}"; use up, down or status.`);
  }
}

main().catch((err) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
