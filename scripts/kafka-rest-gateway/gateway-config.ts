/** The gateway's environment, parsed once at start; a bad value fails fast naming its key. */
import { z } from "zod";
import {
  type EnvProblem,
  envPort,
  envOptional as optional,
  parseEnv,
  productionProblems,
  requireSet,
  requireTrue,
} from "#core/config";

const GatewayEnv = z.object({
  /** Comma-separated bootstrap servers. Default: the local stack's broker. */
  KAFKA_BROKERS: z
    .string()
    .default("127.0.0.1:19092")
    .transform((s) =>
      s
        .split(",")
        .map((b) => b.trim())
        .filter(Boolean),
    )
    .pipe(z.array(z.string().regex(/^[^:\s]+:\d+$/, "each broker must be host:port")).min(1)),
  /** Port to listen on. Default 8082 (Confluent REST Proxy's). */
  KAFKA_REST_PORT: envPort(8082, 0),
  /** Interface to listen on. Default 127.0.0.1; set 0.0.0.0 to serve other hosts. */
  KAFKA_REST_HOST: z.string().min(1).default("127.0.0.1"),
  /** Prefix of the Driftline topic names; the allow-list is every Driftline topic with it. Default "". */
  KAFKA_TOPIC_PREFIX: z.string().default(""),
  /** The cluster id clients use in paths. Default `driftline` (the Worker's default too). */
  KAFKA_REST_CLUSTER_ID: z.string().min(1).default("driftline"),
  /** HTTP Basic credentials clients must send; both or neither. Default: no auth (local). */
  KAFKA_REST_API_KEY: optional(z.string()),
  KAFKA_REST_API_SECRET: optional(z.string()),
  /** Request body limit, bytes. Default 1 MiB. */
  KAFKA_REST_MAX_BODY_BYTES: z.coerce
    .number()
    .int()
    .min(1024)
    .default(1024 * 1024),
  /** Most entries per `records:batch` request. Default 100. */
  KAFKA_REST_MAX_BATCH_ENTRIES: z.coerce.number().int().min(1).default(100),
  /** Upper bound for one produce to Kafka before answering 503, ms. Default 10 000. */
  KAFKA_REST_PRODUCE_TIMEOUT_MS: z.coerce.number().int().min(100).default(10_000),
  /** For a self-hosted cluster with auth: TLS on/off and SASL (default: plaintext, no SASL). */
  KAFKA_SSL: optional(z.enum(["true", "false"])).transform((v) => v === "true"),
  KAFKA_SASL_MECHANISM: optional(z.enum(["plain", "scram-sha-256", "scram-sha-512"])),
  KAFKA_SASL_USERNAME: optional(z.string()),
  KAFKA_SASL_PASSWORD: optional(z.string()),
});

export type GatewayConfig = z.infer<typeof GatewayEnv>;

/** Checks across keys, on the raw values, so they are reported together with per-key problems. */
function pairProblems(env: Record<string, string | undefined>): EnvProblem[] {
  const set = (key: string) => (env[key] ?? "") !== "";
  const problems: EnvProblem[] = [];
  if (set("KAFKA_REST_API_KEY") !== set("KAFKA_REST_API_SECRET")) {
    const missing = set("KAFKA_REST_API_KEY") ? "KAFKA_REST_API_SECRET" : "KAFKA_REST_API_KEY";
    problems.push({ key: missing, message: "set both API key and secret, or neither" });
  }
  if (set("KAFKA_SASL_MECHANISM") && !(set("KAFKA_SASL_USERNAME") && set("KAFKA_SASL_PASSWORD"))) {
    problems.push({
      key: "KAFKA_SASL_USERNAME",
      message: "KAFKA_SASL_MECHANISM needs KAFKA_SASL_USERNAME and KAFKA_SASL_PASSWORD",
    });
  }
  return problems;
}

export function parseGatewayConfig(env: Record<string, string | undefined>): GatewayConfig {
  return parseEnv(GatewayEnv, env, {
    heading: "Kafka REST gateway configuration is invalid:",
    crossKeyProblems: [
      ...pairProblems(env),
      ...productionProblems(env, [
        requireSet("KAFKA_REST_API_KEY", "the gateway serves produce without auth otherwise"),
        requireSet("KAFKA_REST_API_SECRET", "the gateway serves produce without auth otherwise"),
        requireTrue("KAFKA_SSL", "the brokers must be reached over TLS"),
        requireSet("KAFKA_SASL_MECHANISM", "the brokers must authenticate the gateway"),
      ]),
    ],
  });
}
