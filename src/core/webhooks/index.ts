/**
 * Per-tenant alert webhooks: the endpoint secrets (Standard Webhooks `whsec_…`), their sealing at
 * rest (AES-256-GCM), the outbound URL rules, the delivery plan (which endpoints get which alert)
 * and the test event. Pure (WebCrypto only), shared by the Worker's routes and the stream
 * processor's publisher.
 *
 * @module
 */
export * from "./delivery-attempt.ts";
export * from "./plan-alert-deliveries.ts";
export * from "./resolved-host.ts";
export * from "./secret-box.ts";
export * from "./webhook-secret.ts";
export * from "./webhook-test-event.ts";
export * from "./webhook-url.ts";
