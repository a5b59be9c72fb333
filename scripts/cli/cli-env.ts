/**
 * The `driftline` command's environment, read once: the Worker's base URL and the API key the
 * Worker-facing commands (models, events) send. Flags override both.
 */
import { z } from "zod";
import { parseEnv } from "#core/config";
import { loadLocalStackConfig } from "../local/config";

const CliEnv = z.object({
  /** The Worker's base URL; default the local stack's Worker. */
  DRIFTLINE_URL: z.url({ protocol: /^https?$/, error: "must be an http(s) URL" }).optional(),
  /** An API key (dl_…); models need the admin role, events the ingest role. */
  DRIFTLINE_KEY: z.string().min(1).optional(),
});

export interface CliEnvironment {
  url: string;
  key: string | undefined;
}

export function readCliEnv(env: NodeJS.ProcessEnv = process.env): CliEnvironment {
  // An empty variable counts as unset (`DRIFTLINE_KEY= driftline …`).
  const set = (name: string) => (env[name] === "" ? undefined : env[name]);
  const parsed = parseEnv(
    CliEnv,
    { DRIFTLINE_URL: set("DRIFTLINE_URL"), DRIFTLINE_KEY: set("DRIFTLINE_KEY") },
    { heading: "Invalid environment:", layout: "inline" },
  );
  return {
    url: parsed.DRIFTLINE_URL ?? `http://127.0.0.1:${loadLocalStackConfig(env).WORKER_PORT}`,
    key: parsed.DRIFTLINE_KEY,
  };
}
