/** Readiness of the Worker's dependencies: the R2 model store and Upstash Redis. */
import type { Redis } from "@upstash/redis/cloudflare";
import type { DependencyCheck, Readiness } from "./readiness";

async function timed(probe: () => Promise<unknown>): Promise<DependencyCheck> {
  const started = Date.now();
  try {
    await probe();
    return { ok: true, latencyMs: Date.now() - started };
  } catch (err) {
    return {
      ok: false,
      latencyMs: Date.now() - started,
      message: err instanceof Error ? err.message : String(err),
    };
  }
}

export class BindingReadiness implements Readiness {
  constructor(
    private readonly models: R2Bucket,
    private readonly redis: Redis,
  ) {}

  async check(): Promise<Record<string, DependencyCheck>> {
    const [modelStore, redis] = await Promise.all([
      timed(() => this.models.head("readiness-probe")),
      timed(async () => {
        const reply = await this.redis.ping();
        if (reply !== "PONG") throw new Error(`unexpected PING reply ${String(reply)}`);
      }),
    ]);
    return { modelStore, redis };
  }
}
