/** Configuration parsing shared by every program: environment fields and Postgres URLs. */
export * from "./database-url.ts";
export * from "./env-fields.ts";
