/** Configuration parsing shared by every program: environment fields, env parsing, Postgres URLs. */
export * from "./database-url.ts";
export * from "./env-fields.ts";
export * from "./parse-env.ts";
export * from "./production-mode.ts";
