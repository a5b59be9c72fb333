/**
 * Which webhook endpoints receive which alert: a tenant's alerts go only to that tenant's enabled
 * endpoints subscribed to the alert's type (no types: every type), plus the operator's sinks,
 * which receive every tenant's alerts. Pure, so the stream processor's insert and tests agree.
 */

/** A tenant's endpoint as the planner needs it (no URL, no secret). */
export interface WebhookSubscription {
  endpointId: string;
  tenant: string;
  /** CloudEvent types; empty means every alert type. */
  types: readonly string[];
}

/** What the planner needs of an alert. */
export interface PlannedAlert {
  tenant: string;
  alertId: string;
  type: string;
}

/**
 * The outbox `target` of a delivery to a tenant endpoint: the endpoint's id, never its URL or
 * secret, so the publisher looks the endpoint up when it delivers (a deleted endpoint then gets
 * nothing more, and no secret is copied out of webhook_endpoints).
 */
export const ENDPOINT_TARGET_PREFIX = "endpoint:";

export function endpointTarget(endpointId: string): string {
  return `${ENDPOINT_TARGET_PREFIX}${endpointId}`;
}

/** A stored outbox target: a tenant endpoint by id, or an operator sink by URL. */
export type WebhookTarget =
  | { kind: "endpoint"; endpointId: string }
  | { kind: "operator"; url: string };

export function parseWebhookTarget(target: string): WebhookTarget {
  return target.startsWith(ENDPOINT_TARGET_PREFIX)
    ? { kind: "endpoint", endpointId: target.slice(ENDPOINT_TARGET_PREFIX.length) }
    : { kind: "operator", url: target };
}

/** Whether an endpoint subscribed to `type`. */
export function subscribesTo(
  subscription: Pick<WebhookSubscription, "types">,
  type: string,
): boolean {
  return subscription.types.length === 0 || subscription.types.includes(type);
}

/**
 * The webhook targets of each alert, in the order given: the alert's tenant's subscribed endpoints
 * (by id), then every operator sink URL. Subscriptions of other tenants are never matched,
 * whatever the caller passes.
 */
export function planAlertDeliveries<A extends PlannedAlert>(
  alerts: readonly A[],
  subscriptions: readonly WebhookSubscription[],
  operatorSinks: readonly string[] = [],
): { alert: A; target: string }[] {
  const byTenant = new Map<string, WebhookSubscription[]>();
  for (const s of subscriptions) {
    const list = byTenant.get(s.tenant);
    if (list === undefined) byTenant.set(s.tenant, [s]);
    else list.push(s);
  }
  return alerts.flatMap((alert) => [
    ...(byTenant.get(alert.tenant) ?? [])
      .filter((s) => subscribesTo(s, alert.type))
      .map((s) => ({ alert, target: endpointTarget(s.endpointId) })),
    ...operatorSinks.map((url) => ({ alert, target: url })),
  ]);
}
