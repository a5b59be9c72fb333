/** `fetch` for webhook deliveries that connects only to addresses the URL rules allow, checked when the connection is made. */
import { lookup as dnsLookup, type LookupAddress } from "node:dns";
import { Agent, fetch as undiciFetch } from "undici";
import { checkResolvedHost, type WebhookUrlPolicy } from "#core/webhooks";

/** Resolves a hostname to every address it has (node:dns `lookup` with `all`). */
export type ResolveAll = (hostname: string) => Promise<LookupAddress[]>;

const systemResolve: ResolveAll = (hostname) =>
  new Promise((resolve, reject) => {
    dnsLookup(hostname, { all: true }, (error, addresses) =>
      error ? reject(error) : resolve(addresses),
    );
  });

/** A delivery refused because its hostname resolved to an address the rules forbid. */
export class RefusedAddressError extends Error {
  readonly code = "EWEBHOOKADDRESS";
}

type LookupCallback = (
  error: NodeJS.ErrnoException | null,
  address: string | LookupAddress[],
  family?: number,
) => void;

/**
 * A `fetch` whose connections resolve the hostname themselves and check every address it
 * resolves to before connecting to one of them (undici's `connect.lookup`): the address checked
 * is the address connected to, so a record that changes between the URL check and the delivery
 * (DNS rebinding) cannot aim a signed delivery at a loopback, private, link-local or metadata
 * address. One forbidden address refuses the hostname, since its owner controls the whole set.
 * IP literals are not resolved: `checkWebhookUrl` has checked them already.
 */
export function createGuardedFetch(
  policy: WebhookUrlPolicy,
  resolveAll: ResolveAll = systemResolve,
): typeof fetch {
  const agent = new Agent({
    connect: {
      lookup(hostname: string, options: { all?: boolean }, callback: LookupCallback) {
        resolveAll(hostname).then(
          (addresses) => {
            const check = checkResolvedHost(
              hostname,
              addresses.map((a) => a.address),
              policy,
            );
            const first = addresses[0];
            if (!check.ok || first === undefined) {
              const message = check.ok ? `${hostname} resolved to no address` : check.message;
              callback(new RefusedAddressError(message), []);
            } else if (options.all) callback(null, addresses);
            else callback(null, first.address, first.family);
          },
          (error: NodeJS.ErrnoException) => callback(error, []),
        );
      },
    },
  });
  return ((input: string | URL | Request, init?: RequestInit) =>
    undiciFetch(
      input as Parameters<typeof undiciFetch>[0],
      { ...(init as object), dispatcher: agent } as Parameters<typeof undiciFetch>[1],
    )) as unknown as typeof fetch;
}
