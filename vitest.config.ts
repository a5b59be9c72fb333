import { defineConfig } from "vitest/config";

// Three projects: pure unit tests (no services), integration tests against the real local
// services started by `npm test` (scripts/test.ts), and Worker tests inside workerd
// (vitest.workers.config.ts).
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
          hookTimeout: 120_000,
          // Services are shared; files run one at a time to keep a 2-core machine predictable.
          fileParallelism: false,
        },
      },
    ],
  },
});
