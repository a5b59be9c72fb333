/** The MetricsReader port: the stored windows of one tenant, grouped as the caller asks (defined in the core, shared with the Worker). */
export type { MetricsQuery, MetricsReader, MetricsReadResult } from "#core/read-models";
