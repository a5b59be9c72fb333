/** What a JSON syntax error may tell the sender: where, never what (the parser's message quotes the text). */

/**
 * A description of `JSON.parse`'s error without any of the parsed text. V8's messages quote an
 * excerpt of the input (`Unexpected token 'j', ..."{"email": jane@examp"... is not valid JSON`),
 * and an error body must not carry a sender's data back (it may be personal, and it lands in
 * logs and proxies); only the position, when the message gives one, is kept.
 */
export function jsonSyntaxProblem(error: unknown): string {
  const message = error instanceof Error ? error.message : "";
  const position = /\bposition (\d+)/.exec(message)?.[1];
  if (position !== undefined) return `a syntax error at character ${position}`;
  if (/end of (JSON|data|input)/i.test(message)) return "it ends before the JSON value is complete";
  return "a syntax error";
}
