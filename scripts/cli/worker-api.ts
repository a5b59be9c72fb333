/**
 * The Worker's public API as the `driftline` command calls it: base URL and API key from flags or
 * the environment, one error line per failed call (the API's error code and message).
 */
import type { Command } from "commander";
import type { z } from "zod";
import { API_KEY_PATTERN } from "#core/api-keys";
import { DriftlineError } from "#core/errors";
import { readCliEnv } from "./cli-env";
import { UsageError } from "./exit-codes";

export interface WorkerTarget {
  /** Base URL without a trailing slash, e.g. http://127.0.0.1:8787. */
  url: string;
  key: string;
}

/** A call the Worker answered with an error, or could not be made. */
export class WorkerApiError extends DriftlineError {
  constructor(
    message: string,
    readonly status: number | undefined,
    options: { retryable?: boolean; cause?: unknown } = {},
  ) {
    super("DEPENDENCY_UNAVAILABLE", message, options);
    this.name = "WorkerApiError";
  }
}

/** Adds `--url` and `--key` to a command group (values also read from DRIFTLINE_URL / DRIFTLINE_KEY). */
export function withWorkerOptions(command: Command, role: string): Command {
  return command
    .option("--url <url>", "the Worker's base URL (env DRIFTLINE_URL; default the local stack's)")
    .option(
      "--key <key>",
      `an API key with the ${role} role (env DRIFTLINE_KEY, preferred: a flag stays in the shell's history)`,
    );
}

/** The target a command's `--url`/`--key` (or the environment) name; a usage error when unusable. */
export function workerTarget(flags: { url?: string; key?: string }): WorkerTarget {
  const env = readCliEnv();
  const url = (flags.url ?? env.url).replace(/\/+$/, "");
  if (!/^https?:\/\/[^/]/.test(url)) {
    throw new UsageError(`--url must be an http(s) URL like http://127.0.0.1:8787, not "${url}"`);
  }
  const key = flags.key ?? env.key;
  if (key === undefined) {
    throw new UsageError("no API key: set DRIFTLINE_KEY (or pass --key)");
  }
  // The value is not echoed: it may be a real secret with a typo.
  if (!API_KEY_PATTERN.test(key)) {
    throw new UsageError("the API key is not a Driftline key (dl_…); check DRIFTLINE_KEY or --key");
  }
  const host = new URL(url).hostname;
  if (url.startsWith("http://") && !["127.0.0.1", "localhost", "[::1]"].includes(host)) {
    process.stderr.write(
      `warning: ${url} is plain http: the API key and the events travel unencrypted; use https outside this machine.\n`,
    );
  }
  return { url, key };
}

export interface CallOptions {
  method: "GET" | "POST" | "PUT";
  path: string;
  json?: unknown;
  form?: FormData;
  signal?: AbortSignal;
}

/** The raw answer of one call; network failures become a WorkerApiError naming the URL. */
export async function sendToWorker(target: WorkerTarget, call: CallOptions): Promise<Response> {
  const headers: Record<string, string> = { authorization: `Bearer ${target.key}` };
  let body: BodyInit | undefined;
  if (call.json !== undefined) {
    headers["content-type"] = "application/json";
    body = JSON.stringify(call.json);
  } else if (call.form !== undefined) body = call.form;
  try {
    return await fetch(`${target.url}${call.path}`, {
      method: call.method,
      headers,
      ...(body === undefined ? {} : { body }),
      ...(call.signal === undefined ? {} : { signal: call.signal }),
    });
  } catch (error) {
    const why = error instanceof Error ? ((error.cause as Error)?.message ?? error.message) : "";
    throw new WorkerApiError(
      `cannot reach the Worker at ${target.url} (is it running? npm start): ${why}`,
      undefined,
      { retryable: true, cause: error },
    );
  }
}

/** The message of an error answer: `<status> <code>: <message>` from the API's error body. */
export async function errorAnswer(call: CallOptions, res: Response): Promise<string> {
  const text = await res.text();
  let detail = text.slice(0, 300);
  try {
    const body = JSON.parse(text) as { error?: { code?: string; message?: string } };
    if (body.error?.message) detail = `${body.error.code ?? "error"}: ${body.error.message}`;
  } catch {
    // Not the API's JSON error body (a proxy's page, say): its start is shown as is.
  }
  return `${call.method} ${call.path} answered ${res.status} ${detail}`.trim();
}

/** Calls the Worker and parses a 2xx answer with `schema`; any other answer is a WorkerApiError. */
export async function callWorker<S extends z.ZodType>(
  target: WorkerTarget,
  call: CallOptions,
  schema: S,
): Promise<z.output<S>> {
  const res = await sendToWorker(target, call);
  if (!res.ok) {
    throw new WorkerApiError(await errorAnswer(call, res), res.status, {
      retryable: res.status === 429 || res.status >= 500,
    });
  }
  const parsed = schema.safeParse(await res.json().catch(() => undefined));
  if (!parsed.success) {
    throw new WorkerApiError(
      `${call.method} ${call.path} answered ${res.status} with a body this command does not understand (is ${target.url} a Driftline Worker?)`,
      res.status,
    );
  }
  return parsed.data;
}
