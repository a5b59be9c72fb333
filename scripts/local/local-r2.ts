/**
 * The local stack's R2 buckets, opened from an operator command: a Miniflare with no routes whose
 * bindings name the buckets of wrangler.toml, persisted where the stack's Worker keeps them
 * (`<state dir>/wrangler/v3`, the layout `wrangler dev --persist-to` uses).
 */
import { join } from "node:path";
import { convertV4MiniflareOptions, Log, LogLevel, Miniflare } from "miniflare";
import type { ParkedBundleBucket } from "#core/privacy";

/** The bucket names of wrangler.toml's `[[r2_buckets]]`. */
export const LOCAL_R2_BUCKETS = {
  MODELS: "driftline-models",
  DEAD_LETTERS: "driftline-dead-letters",
} as const;

/** What the operator commands do with a bucket: list, read, rewrite and delete objects. */
export type OperatorBucket = ParkedBundleBucket & {
  delete(keys: string | string[]): Promise<unknown>;
};

export interface LocalR2 {
  models: OperatorBucket;
  deadLetters: OperatorBucket;
  /** Where the objects live (for the command's report). */
  location: string;
  close(): Promise<void>;
}

/** Opens the buckets persisted under `persistPath` (the stack's: `<state dir>/wrangler/v3`). */
export async function openLocalR2(persistPath: string): Promise<LocalR2> {
  const mf = new Miniflare(
    convertV4MiniflareOptions({
      resourcePersistencePath: persistPath,
      // No request reaches this Worker, so the `cf` object (fetched from the internet) is not needed.
      cf: false,
      log: new Log(LogLevel.WARN),
      workers: [
        {
          name: "driftline-operator-r2",
          modules: true,
          script: "export default { fetch() { return new Response(null, { status: 404 }); } };",
          compatibilityDate: "2026-10-01",
          r2Buckets: {
            MODELS: { id: LOCAL_R2_BUCKETS.MODELS },
            DEAD_LETTERS: { id: LOCAL_R2_BUCKETS.DEAD_LETTERS },
          },
        },
      ],
    } as Parameters<typeof convertV4MiniflareOptions>[0]),
  );
  await mf.ready;
  const models = (await mf.getR2Bucket("MODELS")) as unknown as OperatorBucket;
  const deadLetters = (await mf.getR2Bucket("DEAD_LETTERS")) as unknown as OperatorBucket;
  return { models, deadLetters, location: persistPath, close: () => mf.dispose() };
}

/** The stack's R2 persistence for a state dir. */
export function localR2Path(stateDir: string): string {
  return join(stateDir, "wrangler", "v3");
}
