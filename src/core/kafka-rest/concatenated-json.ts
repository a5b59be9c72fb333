/** Concatenated JSON (`{…}{…}`), the body and answer of the Kafka REST Proxy's streaming produce. */
import { JSONParser } from "@streamparser/json";

/**
 * The values of concatenated JSON text (whitespace allowed between them), in order. Throws on
 * text that is not a sequence of complete JSON values.
 */
export function concatenatedJson(text: string): unknown[] {
  const values: unknown[] = [];
  if (text.trim() === "") return values;
  // One value, the common case, at native speed; the streaming parser only for several.
  try {
    return [JSON.parse(text)];
  } catch {
    // Several values, or not JSON: the parser below tells which.
  }
  const parser = new JSONParser({ separator: "", paths: ["$"], keepStack: false });
  parser.onValue = ({ value }) => {
    values.push(value);
  };
  parser.write(text);
  parser.end();
  return values;
}
