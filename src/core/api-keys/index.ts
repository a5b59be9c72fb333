/** Driftline API keys: the key format, its SHA-256 record in edge state, per-key rate limits, rotation and tenant origins; shared by the Worker and the key commands. */
export * from "./api-key.ts";
export * from "./normalize-origin.ts";
export * from "./rate-limit-policy.ts";
export * from "./rotation.ts";
export * from "./tenant-key-index.ts";
