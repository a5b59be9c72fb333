/** The Worker's bindings and vars, checked once per isolate by one zod schema. */
import { z } from "zod";
import { ConfigError } from "./core/errors";

const binding = <T>(name: string, method: string) =>
  z.custom<T>(
    (value) =>
      typeof value === "object" &&
      value !== null &&
      typeof (value as Record<string, unknown>)[method] === "function",
    { message: `binding ${name} is missing (declare it in wrangler.toml)` },
  );

const url = z.url({ message: "must be an absolute http(s) URL" });

export const WorkerEnvSchema = z.object({
  /** R2 bucket with model bytes and manifests. */
  MODELS: binding<R2Bucket>("MODELS", "get"),
  /** Cloudflare Queue buffering everything bound for Kafka. */
  INGEST_QUEUE: binding<Queue>("INGEST_QUEUE", "send"),
  UPSTASH_REDIS_REST_URL: url,
  UPSTASH_REDIS_REST_TOKEN: z.string().min(1, "set it with `wrangler secret put` or .dev.vars"),
  /** Kafka REST Proxy v3 base URL (Confluent Cloud, or Driftline's gateway locally). */
  KAFKA_REST_URL: url,
  KAFKA_REST_CLUSTER_ID: z.string().min(1).default("driftline"),
  KAFKA_REST_API_KEY: z.string().optional(),
  KAFKA_REST_API_SECRET: z.string().optional(),
  KAFKA_TOPIC_PREFIX: z.string().default(""),
  LOG_LEVEL: z.enum(["debug", "info", "warn", "error"]).default("info"),
});

export type WorkerEnv = z.infer<typeof WorkerEnvSchema>;

/** Parses the raw `env` handed to the Worker; the error names every missing or bad key. */
export function parseWorkerEnv(raw: unknown): WorkerEnv {
  const parsed = WorkerEnvSchema.safeParse(raw);
  if (parsed.success) return parsed.data;
  const problems = parsed.error.issues.map((i) => `${i.path.join(".") || "(env)"}: ${i.message}`);
  throw new ConfigError(`Worker configuration is invalid: ${problems.join("; ")}`, {
    context: { keys: parsed.error.issues.map((i) => i.path.join(".")) },
  });
}
