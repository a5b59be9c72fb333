/** GET /v1/metrics: the caller tenant's windowed business metrics; the contract lives in the core, shared with the Worker. */
export {
  type MetricsResponse,
  metricsQuerySchema,
  metricsResponseSchema,
  type ReadMetricsDeps as MetricsRouteDeps,
  readMetrics,
  windowSummarySchema,
} from "#core/read-models";
