/** Brings local services up stage by stage and down again (only those it started). */
import type { LocalService, ServiceEndpoint } from "./local/service";

export interface RunningStack {
  urls: Map<string, string>;
  /** Stops, in reverse start order, every service this stack started; the rest keep running. */
  down(): Promise<void>;
}

export async function bringUp(
  stages: readonly (readonly LocalService[])[],
  log: (line: string) => void = (line) => console.log(line),
  onUp?: (service: LocalService, endpoint: ServiceEndpoint) => void,
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
    for (const stage of stages) {
      const outcomes = await Promise.allSettled(
        stage.map(async (service) => {
          const t0 = performance.now();
          const endpoint = await service.up();
          if (endpoint.startedHere) started.push(service);
          urls.set(service.name, endpoint.url);
          onUp?.(service, endpoint);
          const how = endpoint.startedHere ? "started" : "reused";
          const ms = Math.round(performance.now() - t0);
          log(`  ${service.name.padEnd(21)} ${endpoint.url.padEnd(46)} ${how} in ${ms} ms`);
        }),
      );
      const failed = outcomes.filter((o): o is PromiseRejectedResult => o.status === "rejected");
      if (failed.length > 0) {
        throw new Error(
          failed
            .map((f) => (f.reason instanceof Error ? f.reason.message : String(f.reason)))
            .join("\n"),
        );
      }
    }
  } catch (err) {
    await down();
    throw err;
  }
  return { urls, down };
}
