/** Reads Redis commands from Upstash REST requests: a JSON body, a list of them, or the URL path. */
import { ValidationError } from "#core/errors";

export type Arg = string | Buffer;

export function parseCommand(value: unknown, where: string): Arg[] {
  const example = 'a JSON array such as ["SET", "key", "value"]';
  if (!Array.isArray(value) || value.length === 0) {
    throw new ValidationError(`${where} must be ${example}`);
  }
  if (typeof value[0] !== "string" || value[0] === "") {
    throw new ValidationError(`${where}[0] must be the command name as a string, e.g. "GET"`);
  }
  return value.map((item: unknown, index) => {
    if (typeof item === "string") return item;
    if (typeof item === "number" && Number.isFinite(item)) return String(item);
    if (typeof item === "boolean") return String(item);
    const got = item === null ? "null" : Array.isArray(item) ? "an array" : typeof item;
    throw new ValidationError(`${where}[${index}] must be a string, number or boolean, got ${got}`);
  });
}

export function parseJson(body: Buffer): unknown {
  if (body.length === 0) {
    throw new ValidationError(
      'the request body is empty; send a command as a JSON array such as ["GET", "key"]',
    );
  }
  try {
    return JSON.parse(body.toString("utf8"));
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    throw new ValidationError(`the request body is not valid JSON (${reason})`);
  }
}

export function parseCommandList(body: Buffer, endpoint: string): Arg[][] {
  const value = parseJson(body);
  if (!Array.isArray(value) || value.length === 0) {
    throw new ValidationError(
      `${endpoint} expects a non-empty JSON array of commands, e.g. [["SET", "k", "v"], ["GET", "k"]]`,
    );
  }
  return value.map((command, index) => parseCommand(command, `command ${index}`));
}

/** A command from the path (`/set/key/value`), a POSTed body as last argument, then query pairs. */
export function parsePathCommand(pathname: string, query: URLSearchParams, body: Buffer): Arg[] {
  let args: Arg[];
  try {
    args = pathname
      .split("/")
      .filter((segment) => segment !== "")
      .map((segment) => decodeURIComponent(segment));
  } catch {
    throw new ValidationError(`the path ${pathname} is not valid percent-encoding`);
  }
  if (body.length > 0) args.push(body);
  for (const [name, value] of query) {
    if (name === "_token") continue;
    args.push(name);
    if (value !== "") args.push(value);
  }
  return args;
}
