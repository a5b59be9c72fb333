/**
 * Driftline's rooms and doors, checked by `npm run lint` (see ARCHITECTURE.md).
 *
 * Programs: the edge Worker (src/ outside src/core), the stream processor (stream-processor/),
 * the Kafka REST gateway (scripts/kafka-rest-gateway/), the local stack and CLI (the rest of
 * scripts/) and the training code (models/). They share only the core (src/core), imported by its
 * entry points (`#core/...`, package.json "imports"), and never import one another. The core
 * imports no runtime. test/ is the harness: end-to-end tests and benchmarks drive the programs
 * from outside and may import any of them; a program's own tests may use test/support.
 */
const TEST = "(\\.test\\.ts$|/testing/)";
const program = (name, path, others) => ({
  name: `${name}-imports-only-the-core`,
  comment: `${name} imports the core and packages, never another program's code.`,
  severity: "error",
  from: { path, pathNot: TEST },
  to: { path: others },
});

module.exports = {
  forbidden: [
    {
      name: "no-circular",
      comment: "An import cycle; split the shared part out.",
      severity: "error",
      from: {},
      to: { circular: true },
    },
    {
      name: "core-is-pure",
      comment: "src/core is pure: no program code, no Node built-ins, no runtime or vendor I/O.",
      severity: "error",
      from: { path: "^src/core/", pathNot: TEST },
      to: {
        path: [
          "^(src/(?!core/)|stream-processor/|retraining-worker/|scripts/|models/|test/)",
          "node_modules/(hono|@hono|kafkajs|@neondatabase|@upstash|onnxruntime-web|pino|prom-client|ws|pg)/",
        ],
      },
    },
    {
      name: "core-has-no-node-builtins",
      severity: "error",
      from: { path: "^src/core/", pathNot: TEST },
      to: { dependencyTypes: ["core"] },
    },
    {
      name: "core-through-entry-points",
      comment: "Outside the core, import it by an entry point (#core/...), not by a relative path.",
      severity: "error",
      from: { pathNot: "^src/core/" },
      to: { path: "^src/core/", dependencyTypesNot: ["aliased-subpath-import"] },
    },
    program(
      "the Worker",
      "^src/(?!core/)",
      "^(stream-processor|retraining-worker|scripts|test/(?!support/)|models/(?!.*\\.(json|onnx)$))",
    ),
    program(
      "the stream processor",
      "^stream-processor/",
      "^(src/(?!core/)|retraining-worker/|scripts/|models/|test/(?!support/))",
    ),
    program(
      "the retraining worker",
      "^retraining-worker/",
      "^(src/(?!core/)|stream-processor/|scripts/|models/|test/(?!support/))",
    ),
    program(
      "the Kafka REST gateway",
      "^scripts/kafka-rest-gateway/",
      "^(src/(?!core/)|stream-processor/|retraining-worker/|scripts/(?!kafka-rest-gateway/)|models/|test/)",
    ),
    program(
      "the local stack and CLI",
      "^scripts/(?!kafka-rest-gateway/)",
      "^(src/(?!core/)|stream-processor/|retraining-worker/|scripts/kafka-rest-gateway/|models/|test/)",
    ),
    program(
      "the training code",
      "^models/",
      "^(src/(?!core/)|stream-processor/|retraining-worker/|scripts/|test/)",
    ),
    {
      name: "tests-use-the-shared-harness-only",
      comment: "A program's tests reach other programs only through test/support.",
      severity: "error",
      from: {
        path: "^(src/(?!core/)|stream-processor/|retraining-worker/|scripts/|models/).*\\.test\\.ts$",
      },
      to: {
        path: "^(src/(?!core/)|stream-processor/|retraining-worker/|scripts/|models/)",
        pathNot: ["^models/.*\\.(json|onnx)$", "$1"],
      },
    },
  ],
  options: {
    doNotFollow: { path: "node_modules" },
    exclude: { path: "(^|/)(node_modules|\\.driftline|\\.wrangler)/" },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: "tsconfig.json" },
    enhancedResolveOptions: {
      exportsFields: ["exports"],
      conditionNames: ["import", "require", "node", "default", "types"],
      extensions: [".ts", ".js", ".json"],
    },
    parser: "swc",
  },
};
