/** Encodes Redis replies as Upstash's REST API answers them (plain or base64 strings, nested arrays). */

const OK = Buffer.from("OK");

/** Strings are base64 when the client asks (`Upstash-Encoding: base64`); arrays recursively. */
function encodeValue(value: unknown, base64: boolean): unknown {
  if (value === null || value === undefined) return null;
  if (Buffer.isBuffer(value)) return base64 ? value.toString("base64") : value.toString("utf8");
  if (typeof value === "number") return value;
  if (typeof value === "string") return base64 ? Buffer.from(value).toString("base64") : value;
  if (Array.isArray(value)) return value.map((item) => encodeValue(item, base64));
  // An error reply nested in an array (e.g. inside a Lua table) becomes its message.
  if (value instanceof Error) return encodeValue(value.message, base64);
  return encodeValue(String(value), base64);
}

/** A top-level reply: the literal "OK" stays plain, as Upstash does (the client relies on it). */
export function encodeResult(value: unknown, base64: boolean): unknown {
  if (Buffer.isBuffer(value) && value.equals(OK)) return "OK";
  return encodeValue(value, base64);
}
