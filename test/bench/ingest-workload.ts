/** The events the ingest benchmarks send: CAPI events with every contact field raw, and browser beacon events. */

export const UA =
  "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Safari/537.36";

// Contact data of a batch from one advertiser: names, birth dates and zip codes mostly differ from
// event to event, cities and states repeat, gender and country take a few values. The Worker
// hashes each distinct normalised value of a request once, so repeats like these (and only
// these) are cheaper, as they would be in real traffic.
const FIRST_NAMES = ["Mary", "James", "Ana", "Wei", "Fatima", "Lukas", "Sofía", "Noah", "Aiko"];
const LAST_NAMES = ["Jones", "García", "Nguyen", "Müller", "Okafor", "Smith", "Rossi", "Kim"];
const CITIES = ["San Francisco", "New York", "Austin", "Chicago", "Seattle", "Denver", "Miami"];
const STATES = ["CA", "NY", "TX", "IL", "WA", "CO", "FL", "MA", "GA", "OR", "AZ", "NV"];

/** A CAPI Purchase with every customer information parameter raw (all hashed by the Worker). */
export function capiEvent(i: number, eventId: string) {
  const pick = <T>(values: readonly T[], n: number) => values[n % values.length] as T;
  return {
    event_name: "Purchase",
    event_time: Math.floor(Date.now() / 1000) - 60,
    event_id: eventId,
    event_source_url: `https://shop.example/checkout/${i}?utm_source=meta&utm_campaign=bench`,
    action_source: "website",
    user_data: {
      em: `Customer.${i}@Example.com`,
      ph: `+1 (650) 555-${String(1000 + (i % 9000)).padStart(4, "0")}`,
      // i and i / 9 give 81 distinct first/last name pairs per cycle; suffixes make most unique.
      fn: `${pick(FIRST_NAMES, i)}${i % 7 === 0 ? "" : ` ${String.fromCharCode(65 + (i % 26))}.`}`,
      ln: `${pick(LAST_NAMES, Math.floor(i / 9))}-${i % 97}`,
      db: `19${String(50 + (i % 50))}${String(1 + (i % 12)).padStart(2, "0")}${String(1 + (i % 28)).padStart(2, "0")}`,
      ge: i % 2 === 0 ? "f" : "m",
      ct: pick(CITIES, i),
      st: pick(STATES, i),
      zp: `${String(10000 + ((i * 37) % 89999))}-1234`,
      country: i % 10 === 0 ? "CA" : "US",
      external_id: `cust-${i}`,
      client_ip_address: "203.0.113.50",
      client_user_agent: UA,
      fbc: "fb.1.1554763741205.AbCdEfGhIjKlMnOpQrStUvWxYz1234567890",
      fbp: `fb.1.1558571054389.${1_000_000_000 + i}`,
    },
    custom_data: {
      value: 49.9 + (i % 50),
      currency: "usd",
      content_type: "product",
      contents: [{ id: `sku-${i % 200}`, quantity: 1, item_price: 49.9 }],
      order_id: `order-${eventId}`,
    },
  };
}

/** A browser beacon event: contact fields few, ip and user agent from the request. */
export function webEvent(i: number, eventId: string) {
  return {
    event_name: i % 10 === 0 ? "Purchase" : "ViewContent",
    event_time: Date.now() - 1_000,
    event_id: eventId,
    event_source_url: `https://shop.example/p/${i % 500}?utm_campaign=bench&fbclid=IwAR${i}`,
    user_data: { em: `visitor${i}@example.com`, fbp: `fb.1.1558571054389.${i}` },
    custom_data: { value: 19.5, currency: "EUR" },
  };
}

export interface Scenario {
  name: string;
  route: "capi" | "web";
  batch: number;
  path: string;
  template: string[];
}

const ID_MARK = "@@ID@@";

/**
 * A request body as string pieces around each event id, so a request with fresh ids is one
 * `join` (the client must not eat the CPU the Worker is measured on).
 */
export function bodyTemplate(route: "capi" | "web", batch: number): string[] {
  const events = Array.from({ length: batch }, (_, i) =>
    route === "capi" ? capiEvent(i, `${ID_MARK}-${i}`) : webEvent(i, `${ID_MARK}-${i}`),
  );
  const body = route === "capi" ? { data: events } : batch === 1 ? events[0] : { events };
  return JSON.stringify(body).split(ID_MARK);
}
