/** The events the ingest benchmarks send: CAPI events with every contact field raw, and browser beacon events. */

export const UA =
  "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Safari/537.36";

/** A CAPI Purchase with every customer information parameter raw (all hashed by the Worker). */
export function capiEvent(i: number, eventId: string) {
  return {
    event_name: "Purchase",
    event_time: Math.floor(Date.now() / 1000) - 60,
    event_id: eventId,
    event_source_url: `https://shop.example/checkout/${i}?utm_source=meta&utm_campaign=bench`,
    action_source: "website",
    user_data: {
      em: `Customer.${i}@Example.com`,
      ph: `+1 (650) 555-${String(1000 + (i % 9000)).padStart(4, "0")}`,
      fn: "Mary",
      ln: "Jones",
      db: "19850412",
      ge: "f",
      ct: "San Francisco",
      st: "CA",
      zp: "94107-1234",
      country: "US",
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
