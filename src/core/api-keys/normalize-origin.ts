/** Browser origins as tenants configure them: `scheme://host[:port]`, nothing else. */

/** `https://Shop.Example:443/` → `https://shop.example`; undefined for anything not an origin. */
export function normalizeOrigin(value: string): string | undefined {
  try {
    const url = new URL(value);
    if (url.protocol !== "https:" && url.protocol !== "http:") return undefined;
    return url.origin;
  } catch {
    return undefined;
  }
}
