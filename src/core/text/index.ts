/** Text rules for what Driftline stores and parses: well-formed Unicode, JSON nesting depth. */
export * from "./json-depth.ts";
export * from "./json-syntax.ts";
export * from "./well-formed-text.ts";
