import { cloudflareTest } from "@cloudflare/vitest-plugin";
import { defineConfig } from "vitest/config";

// The read API's Worker tests use their own schema of the test database, migrated by
// test/worker/read-schema-setup.ts; the Worker reaches it through the stack's relay.
process.env.DRIFTLINE_WORKER_READ_SCHEMA ??= `worker_read_${Date.now().toString(36)}`;
const READ_SCHEMA = process.env.DRIFTLINE_WORKER_READ_SCHEMA;
const TEST_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/test";

// Three projects: pure unit tests (no services), integration tests against the real local
// services that `npm test` starts (scripts/test.ts), and Worker tests inside workerd.
export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: "unit",
          environment: "node",
          include: [
            "src/**/*.test.ts",
            "stream-processor/**/*.test.ts",
            "retraining-worker/**/*.test.ts",
            "scripts/**/*.test.ts",
            "models/**/*.test.ts",
          ],
          exclude: ["**/*.int.test.ts", "**/*.worker.test.ts", "**/node_modules/**"],
        },
      },
      {
        test: {
          name: "integration",
          environment: "node",
          include: ["**/*.int.test.ts", "test/**/*.test.ts"],
          exclude: ["**/*.worker.test.ts", "**/node_modules/**", "test/worker/**"],
          testTimeout: 60_000,
          hookTimeout: 180_000,
          // Services are shared; files run one at a time to keep a 2-core machine predictable.
          fileParallelism: false,
        },
      },
      {
        plugins: [
          cloudflareTest({
            wrangler: { configPath: "./wrangler.toml" },
            miniflare: {
              bindings: {
                UPSTASH_REDIS_REST_URL:
                  process.env.UPSTASH_REDIS_REST_URL ?? "http://127.0.0.1:8079",
                UPSTASH_REDIS_REST_TOKEN:
                  process.env.UPSTASH_REDIS_REST_TOKEN ?? "driftline-local-token",
                KAFKA_REST_URL: process.env.KAFKA_REST_URL ?? "http://127.0.0.1:8082",
                // search_path as a start-up option: every pooled connection lands in the schema.
                DATABASE_URL: `${TEST_DATABASE_URL}?options=${encodeURIComponent(`-c search_path=${READ_SCHEMA}`)}`,
                NEON_WS_RELAY_URL: process.env.NEON_WS_RELAY_URL ?? "ws://127.0.0.1:5488",
              },
            },
          }),
        ],
        test: {
          name: "workers",
          include: ["test/worker/**/*.worker.test.ts", "src/**/*.worker.test.ts"],
          // The browser SDK's bundle is a valid ES module under a dist/ folder, which Vitest would
          // externalize and hand to workerd unresolved; inlined, it takes the "Text" rule.
          server: { deps: { inline: [/\/src\/sdk\/dist\//] } },
          globalSetup: [
            "test/worker/read-schema-setup.ts",
            "test/worker/webhook-receiver-setup.ts",
          ],
          testTimeout: 30_000,
        },
      },
    ],
  },
});
