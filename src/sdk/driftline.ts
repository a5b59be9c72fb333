/**
 * Driftline's browser SDK: website events with an id shared with the Meta Pixel, first-party
 * `_fbp`/`_fbc`, batching, beacons, retries and an offline queue, behind the visitor's consent.
 *
 * @example
 * import { init, track } from "https://api.example/sdk/v1/driftline.js";
 * init({ endpoint: "https://api.example", key: "dl_…publishable…", consent: "pending" });
 * track("Purchase", { value: 42.5, currency: "EUR" });
 */

/** `pending`: queue in memory, write nothing, send nothing until `consent(true)`. */
export type Consent = "granted" | "pending" | "denied";

export interface InitOptions {
  /** The Driftline base URL (the Worker), e.g. `https://api.example`. */
  endpoint: string;
  /** A publishable ingest key (created with `keys:create --origins …`). */
  key: string;
  /** Default `granted`; use `pending` where consent is required before anything is sent. */
  consent?: Consent;
  /** Events per request (default 20, at most 100). */
  batchSize?: number;
  /** How long an event may wait for more to batch with, ms (default 1000). */
  flushIntervalMs?: number;
  /** Events kept for later while offline or failing (default 500; the oldest go first). */
  maxQueued?: number;
  /** Mirror every event to the Meta Pixel (`fbq`) with the same event id (default true). */
  pixel?: boolean;
}

export interface TrackOptions {
  /** Your own id for the event (an order number); default a random UUID. */
  eventId?: string;
  /** Hashed or raw customer information (Meta's user_data names); hashed by Driftline. */
  userData?: Record<string, unknown>;
}

interface QueuedEvent {
  event_name: string;
  event_time: number;
  event_id: string;
  event_source_url: string;
  referrer_url?: string;
  action_source: "website";
  user_data: Record<string, unknown>;
  custom_data?: Record<string, unknown>;
  fbclid?: string;
}

// Meta's standard events go to `fbq('track')`; any other name to `fbq('trackCustom')`.
const STANDARD =
  " AddPaymentInfo AddToCart AddToWishlist CompleteRegistration Contact CustomizeProduct Donate FindLocation InitiateCheckout Lead PageView Purchase Schedule Search StartTrial SubmitApplication Subscribe ViewContent ";
const STORE = "driftline:queue";
const COOKIE_DAYS = 90;
/** Beacons and keepalive fetches are refused past 64 KiB in flight; stay well below. */
const MAX_BODY_CHARS = 60_000;

let options: Required<InitOptions> | undefined;
let state: Consent = "denied";
let queue: QueuedEvent[] = [];
/** Pixel calls made before consent, replayed (with their ids) once it is given. */
let pixelBacklog: [string, Record<string, unknown> | undefined, string][] = [];
let timer: ReturnType<typeof setTimeout> | undefined;
let sending = false;
/** Events of the request in flight: a beacon leaves them to it. */
let inFlight: QueuedEvent[] = [];
let failures = 0;

export function init(opts: InitOptions): void {
  options = {
    consent: "granted",
    batchSize: 20,
    flushIntervalMs: 1000,
    maxQueued: 500,
    pixel: true,
    ...opts,
    endpoint: opts.endpoint.replace(/\/+$/, ""),
  };
  options.batchSize = Math.min(100, Math.max(1, options.batchSize));
  state = options.consent;
  if (state === "granted") restore();
  addEventListener("online", () => flush());
  addEventListener("pagehide", () => flush(true));
  document.addEventListener("visibilitychange", () => {
    if (document.visibilityState === "hidden") flush(true);
  });
  if (queue.length > 0) schedule(0);
}

/** Grants or withdraws consent: granting sends what waited; withdrawing drops it and stops. */
export function consent(granted: boolean): void {
  if (!options) return;
  state = granted ? "granted" : "denied";
  if (!granted) {
    queue = [];
    pixelBacklog = [];
    try {
      localStorage.removeItem(STORE);
    } catch {}
    return;
  }
  const waiting = queue;
  queue = [];
  restore();
  for (const e of waiting) {
    Object.assign(e.user_data, browserIds());
    queue.push(e);
  }
  for (const [name, props, id] of pixelBacklog) toPixel(name, props, id);
  pixelBacklog = [];
  persist();
  schedule(0);
}

/**
 * Records an event and returns its event id (also given to `fbq` as `eventID`, so Meta
 * deduplicates the pixel's copy and Driftline's). Nothing leaves the page without consent.
 */
export function track(
  eventName: string,
  properties?: Record<string, unknown>,
  opts: TrackOptions = {},
): string | undefined {
  if (!options || state === "denied") return undefined;
  const id = opts.eventId ?? uuid();
  const url = location.href;
  const event: QueuedEvent = {
    event_name: eventName,
    event_time: Date.now(),
    event_id: id,
    event_source_url: url,
    action_source: "website",
    user_data: { ...opts.userData, ...(state === "granted" ? browserIds() : {}) },
  };
  if (document.referrer) event.referrer_url = document.referrer;
  if (properties) event.custom_data = properties;
  const fbclid = param("fbclid");
  if (fbclid) event.fbclid = fbclid;
  if (state === "granted") toPixel(eventName, properties, id);
  else pixelBacklog.push([eventName, properties, id]);
  queue.push(event);
  if (queue.length > options.maxQueued) queue.splice(0, queue.length - options.maxQueued);
  persist();
  schedule(queue.length >= options.batchSize ? 0 : options.flushIntervalMs);
  return id;
}

/** Sends what is queued now; `beacon` (page going away) uses navigator.sendBeacon. */
export function flush(beacon = false): Promise<void> {
  if (!options || state !== "granted" || queue.length === 0) return Promise.resolve();
  if (beacon) {
    // The page is going away: hand what is not in flight to the browser, which sends it after
    // unload. Offline, a beacon is accepted and then lost: the stored queue waits for the next
    // page instead, as it does when the browser refuses the beacon.
    const batch = take();
    if (
      navigator.onLine &&
      batch.length > 0 &&
      navigator.sendBeacon(
        `${eventsUrl()}?access_token=${encodeURIComponent(options.key)}`,
        body(batch),
      )
    ) {
      drop(batch);
    }
    return Promise.resolve();
  }
  if (sending || !navigator.onLine) return Promise.resolve();
  return send();
}

async function send(): Promise<void> {
  const o = options as Required<InitOptions>;
  sending = true;
  try {
    while (state === "granted" && queue.length > 0) {
      const batch = take();
      if (batch.length === 0) return;
      inFlight = batch;
      let retry: boolean;
      try {
        const res = await fetch(eventsUrl(), {
          method: "POST",
          keepalive: true,
          headers: { authorization: `Bearer ${o.key}`, "content-type": "application/json" },
          body: body(batch),
        });
        // 202: every event answered (a rejected one would be rejected again); 4xx other than
        // 408/429 will not change on a retry either. 5xx, 408 and 429 are worth another try.
        retry = res.status >= 500 || res.status === 408 || res.status === 429;
      } catch {
        retry = true; // offline, DNS, CORS preflight failure: keep the events
      }
      if (retry) {
        failures++;
        schedule(Math.min(60_000, 1000 * 2 ** failures) * (0.5 + Math.random() / 2));
        return;
      }
      failures = 0;
      drop(batch);
    }
  } finally {
    sending = false;
    inFlight = [];
  }
}

/** The oldest events not in flight, as many as fit one request. */
function take(): QueuedEvent[] {
  const o = options as Required<InitOptions>;
  const batch = queue.filter((e) => !inFlight.includes(e)).slice(0, o.batchSize);
  while (batch.length > 1 && body(batch).length > MAX_BODY_CHARS) batch.pop();
  return batch;
}

/** Removes sent events by identity (a beacon may have sent others meanwhile). */
function drop(batch: QueuedEvent[]): void {
  queue = queue.filter((e) => !batch.includes(e));
  persist();
}

const body = (events: QueuedEvent[]) => JSON.stringify({ events });
const eventsUrl = () => `${(options as Required<InitOptions>).endpoint}/v1/events`;

function schedule(ms: number): void {
  clearTimeout(timer);
  timer = setTimeout(() => void flush(), ms);
}

function toPixel(name: string, props: Record<string, unknown> | undefined, id: string): void {
  const fbq = (window as unknown as { fbq?: (...a: unknown[]) => void }).fbq;
  if (!options?.pixel || typeof fbq !== "function") return;
  fbq(STANDARD.includes(` ${name} `) ? "track" : "trackCustom", name, props ?? {}, { eventID: id });
}

/**
 * Meta's browser ids, as first-party cookies of this site: `_fbp` (made here when the pixel has
 * not made it yet) and `_fbc` (from the cookie, or made from the landing URL's fbclid), both in
 * Meta's `fb.1.<ms>.<value>` format. Only called once consent is given.
 */
function browserIds(): Record<string, string> {
  let fbp = cookie("_fbp");
  if (!fbp) {
    fbp = `fb.1.${Date.now()}.${Math.floor(Math.random() * 2 ** 31)}`;
    setCookie("_fbp", fbp);
  }
  let fbc = cookie("_fbc");
  const fbclid = param("fbclid");
  if (fbclid && !fbc?.endsWith(`.${fbclid}`)) {
    fbc = `fb.1.${Date.now()}.${fbclid}`;
    setCookie("_fbc", fbc);
  }
  return fbc ? { fbp, fbc } : { fbp };
}

function cookie(name: string): string | undefined {
  const match = document.cookie.match(new RegExp(`(?:^|; )${name}=([^;]*)`));
  return match ? decodeURIComponent(match[1] as string) : undefined;
}

function setCookie(name: string, value: string): void {
  // First-party, on this host only; never a third-party cookie.
  // biome-ignore lint/suspicious/noDocumentCookie: the Cookie Store API is missing in Safari and Firefox
  document.cookie = `${name}=${encodeURIComponent(value)}; max-age=${COOKIE_DAYS * 86400}; path=/; SameSite=Lax${location.protocol === "https:" ? "; Secure" : ""}`;
}

const param = (name: string) => new URLSearchParams(location.search).get(name) ?? undefined;

function uuid(): string {
  if (crypto.randomUUID) return crypto.randomUUID();
  const b = crypto.getRandomValues(new Uint8Array(16));
  return Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
}

function persist(): void {
  if (state !== "granted") return; // nothing is written to the device before consent
  try {
    if (queue.length === 0) localStorage.removeItem(STORE);
    else localStorage.setItem(STORE, JSON.stringify(queue));
  } catch {}
}

/** Events a previous page left (offline, or closed mid-send) come first. */
function restore(): void {
  try {
    const stored = JSON.parse(localStorage.getItem(STORE) ?? "[]") as QueuedEvent[];
    const ids = new Set(queue.map((e) => e.event_id));
    queue = [...stored.filter((e) => !ids.has(e.event_id)), ...queue];
  } catch {}
}
