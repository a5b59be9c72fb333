/**
 * `npm run retraining -- <command>`: the operator controls of the retraining worker's ops API
 * from the command line — list requests, cancel one, roll back or approve a challenger, pause or
 * resume automation, set the approval mode. Talks to RETRAIN_API_URL (default the local stack's
 * worker) with RETRAIN_OPS_TOKEN when set.
 */
import { pathToFileURL } from "node:url";
import { parseCommandLine, usageError } from "./command-line";

export const USAGE = `Usage: npm run retraining -- <command> --tenant <id> [options]

Commands:
  list                           the tenant's retraining requests with their job state
  cancel <request-id>            cancel a request before its candidate serves
  rollback <request-id>          roll back a serving challenger (the champion keeps serving)
  approve <request-id>           carry out a decision waiting for approval (manual mode)
  pause [--model <name>]         stop automation for one model, or every model (default)
  resume [--model <name>]        resume it
  approval <auto|manual> [--model <name>]   who carries out the online decision

Options:
  --tenant <id>    the tenant (required)
  --model <name>   a model name for pause / resume / approval (default *: every model)
  --limit <n>      list: most requests shown (default 100)
  --json           print the ops API's answer as JSON

Environment:
  RETRAIN_API_URL    the worker's ops API (default http://127.0.0.1:$RETRAIN_API_PORT, port 8789)
  RETRAIN_OPS_TOKEN  its bearer token, when the worker requires one

Examples:
  npm run retraining -- list --tenant acme
  npm run retraining -- rollback 7f7c7a52-… --tenant acme
  npm run retraining -- pause --tenant acme --model conversion`;

const COMMAND = "npm run retraining";
const OPTIONS = {
  tenant: { type: "string" },
  model: { type: "string", default: "*" },
  limit: { type: "string", default: "100" },
  json: { type: "boolean", default: false },
} as const;

export interface OpsCall {
  method: "GET" | "POST" | "PUT";
  path: string;
  body?: unknown;
}

/** The ops API call a command line stands for; a usage error names what to fix. */
export function opsCall(argv: string[]): { call: OpsCall; json: boolean } {
  const spec = { command: COMMAND, usage: USAGE, options: OPTIONS, allowPositionals: true, argv };
  const { values, positionals } = parseCommandLine(spec);
  const [command, arg, ...rest] = positionals;
  if (command === undefined) usageError(spec, "name a command (list, cancel, rollback, …)");
  if (rest.length > 0) usageError(spec, `unexpected argument '${rest[0]}'`);
  if (values.tenant === undefined) usageError(spec, "--tenant is required");
  const tenant = encodeURIComponent(values.tenant);
  const model = encodeURIComponent(values.model);
  const requests = `/v1/tenants/${tenant}/retraining-requests`;
  const settings = `/v1/tenants/${tenant}/retraining-settings/${model}`;
  const needId = (): string => {
    if (arg === undefined) usageError(spec, `${command} needs the request id`);
    return encodeURIComponent(arg);
  };
  const noArg = () => {
    if (arg !== undefined) usageError(spec, `unexpected argument '${arg}'`);
  };
  const json = values.json;
  switch (command) {
    case "list": {
      noArg();
      const limit = Number(values.limit);
      if (!Number.isInteger(limit) || limit < 1 || limit > 1000) {
        usageError(spec, "--limit must be a whole number from 1 to 1000");
      }
      return { call: { method: "GET", path: `${requests}?limit=${limit}` }, json };
    }
    case "cancel":
    case "rollback":
    case "approve":
      return { call: { method: "POST", path: `${requests}/${needId()}/${command}` }, json };
    case "pause":
    case "resume":
      noArg();
      return {
        call: { method: "PUT", path: settings, body: { paused: command === "pause" } },
        json,
      };
    case "approval":
      if (arg !== "auto" && arg !== "manual") usageError(spec, "approval takes auto or manual");
      return { call: { method: "PUT", path: settings, body: { approval: arg } }, json };
    default:
      usageError(spec, `unknown command '${command}'`);
  }
}

function opsBaseUrl(env: NodeJS.ProcessEnv): string {
  return (env.RETRAIN_API_URL ?? `http://127.0.0.1:${env.RETRAIN_API_PORT ?? 8789}`).replace(
    /\/+$/,
    "",
  );
}

interface JobLine {
  id: string;
  model: string;
  version?: string;
  status: string;
  reason?: string | null;
  requestedAt?: string;
}

async function main(): Promise<number> {
  const { call, json } = opsCall(process.argv.slice(2));
  const base = opsBaseUrl(process.env);
  const headers: Record<string, string> = { accept: "application/json" };
  if (process.env.RETRAIN_OPS_TOKEN)
    headers.authorization = `Bearer ${process.env.RETRAIN_OPS_TOKEN}`;
  if (call.body !== undefined) headers["content-type"] = "application/json";
  let res: Response;
  try {
    res = await fetch(`${base}${call.path}`, {
      method: call.method,
      headers,
      body: call.body === undefined ? undefined : JSON.stringify(call.body),
      signal: AbortSignal.timeout(15_000),
    });
  } catch (error) {
    process.stderr.write(
      `Cannot reach the retraining worker at ${base} (${error instanceof Error ? error.message : String(error)}). ` +
        "Is it running (npm start starts it)? Set RETRAIN_API_URL if it listens elsewhere.\n",
    );
    return 1;
  }
  const text = await res.text();
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    body = text;
  }
  if (!res.ok) {
    const message =
      (body as { error?: { message?: string } })?.error?.message ?? `HTTP ${res.status}: ${text}`;
    process.stderr.write(`${message}\n`);
    return 1;
  }
  if (json) {
    process.stdout.write(`${JSON.stringify(body, null, 2)}\n`);
    return 0;
  }
  const data = (body as { data?: JobLine[] }).data;
  if (Array.isArray(data)) {
    if (data.length === 0) process.stdout.write("No retraining requests.\n");
    for (const j of data) {
      process.stdout.write(
        `${j.id}  ${j.model}${j.version ? `@${j.version}` : ""}  ${j.status}  ${j.requestedAt ?? ""}${j.reason ? `  (${j.reason})` : ""}\n`,
      );
    }
  } else {
    process.stdout.write(`${JSON.stringify(body)}\n`);
  }
  return 0;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().then(
    (code) => process.exit(code),
    (error: unknown) => {
      process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`);
      process.exit(1);
    },
  );
}
