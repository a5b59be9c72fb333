/** Seeded pseudo-random numbers for reproducible synthetic data, training and tests. */
export * from "./prng.ts";
