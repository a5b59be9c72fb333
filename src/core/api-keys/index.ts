/** Driftline API keys: the key format, its SHA-256 record in edge state, and tenant origins; shared by the Worker and the key commands. */
export * from "./api-key.ts";
export * from "./normalize-origin.ts";
