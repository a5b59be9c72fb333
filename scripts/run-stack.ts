/** Brings a list of local services up (in order) and down again (only those it started). */
import type { LocalService } from "./local/service";

export interface RunningStack {
  urls: Map<string, string>;
  /** Stops, in reverse order, every service this stack started; the rest keep running. */
  down(): Promise<void>;
}

export async function bringUp(
  services: readonly LocalService[],
  log: (line: string) => void = (line) => console.log(line),
): Promise<RunningStack> {
  const started: LocalService[] = [];
  const urls = new Map<string, string>();
  const down = async () => {
    for (const service of started.reverse()) {
      await service.down().catch((err) => log(`! stopping ${service.name}: ${String(err)}`));
    }
    started.length = 0;
  };
  try {
    for (const service of services) {
      const t0 = performance.now();
      const endpoint = await service.up();
      if (endpoint.startedHere) started.push(service);
      urls.set(service.name, endpoint.url);
      const how = endpoint.startedHere ? "started" : "reused";
      log(
        `  ${service.name.padEnd(14)} ${endpoint.url.padEnd(40)} ${how} in ${Math.round(performance.now() - t0)} ms`,
      );
    }
  } catch (err) {
    await down();
    throw err;
  }
  return { urls, down };
}
