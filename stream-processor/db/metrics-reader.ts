/** The MetricsReader port: the stored windows of one tenant, grouped as the caller asks. */
import type {
  GroupDimension,
  WindowPredictionsRow,
  WindowTotalsRow,
  WindowValueRow,
} from "#core/windows";

export interface MetricsQuery {
  /** Every read is scoped to one tenant; there is no cross-tenant read. */
  tenant: string;
  widthMs: number;
  /** Windows starting in [fromMs, toMs). */
  fromMs: number;
  toMs: number;
  groupBy: readonly GroupDimension[];
  filters: { source?: string; eventName?: string; campaign?: string };
  /** Most totals rows to return; the reader returns at most limit + 1 so callers can tell. */
  limit: number;
}

export interface MetricsReadResult {
  totals: WindowTotalsRow[];
  values: WindowValueRow[];
  predictions: WindowPredictionsRow[];
  /** The tenant's newest trusted event time, epoch ms. */
  maxEventTimeMs: number | undefined;
}

export interface MetricsReader {
  readWindows(query: MetricsQuery): Promise<MetricsReadResult>;
}
