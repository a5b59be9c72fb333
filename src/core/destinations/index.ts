/**
 * Destinations: per-tenant forwarding targets (Meta's Conversions API first), their settings and
 * sealed tokens, and the reading of Meta's Graph API answers. Pure (WebCrypto only), shared by
 * the Worker's routes, the delivery service and the local Graph API test server.
 *
 * @module
 */
export * from "./destination-config.ts";
export * from "./meta-graph-errors.ts";
export * from "./token-box.ts";
