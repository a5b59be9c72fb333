/** What the Kafka REST v3 client and the local gateway share: concatenated-JSON parsing. */
export * from "./concatenated-json.ts";
