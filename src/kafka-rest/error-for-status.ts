/** Turns Kafka REST answers (HTTP statuses, Confluent error codes, delivery reports) into outcomes. */
import {
  ConflictError,
  DependencyUnavailableError,
  DriftlineError,
  NotFoundError,
  ValidationError,
} from "#core/errors";
import type { KafkaRestOutcome } from "./kafka-rest-record";

/** Statuses that concern one record only: the next record may well succeed. */
export function isPerRecordStatus(status: number): boolean {
  return status === 400 || status === 413 || status === 422;
}

export function failure(error: DriftlineError): KafkaRestOutcome {
  return { ok: false, retryable: error.retryable, message: error.message, error };
}

/** One delivery report (or single-record answer) as an outcome. */
export function parseDeliveryReport(body: unknown): KafkaRestOutcome {
  const b = body as {
    error_code?: unknown;
    message?: unknown;
    partition_id?: unknown;
    offset?: unknown;
  };
  // A delivery report carries its own error_code; 200 is success (streaming-mode semantics).
  if (typeof b.error_code === "number" && b.error_code !== 200) {
    const message = typeof b.message === "string" ? b.message : `error_code ${b.error_code}`;
    return failure(errorForStatus(httpStatusOf(b.error_code), message, {}));
  }
  return { ok: true, partitionId: Number(b.partition_id), offset: Number(b.offset) };
}

/** Confluent error codes are HTTP statuses or five-digit refinements of them (40403 → 404). */
export function httpStatusOf(code: number): number {
  return code >= 10_000 ? Math.floor(code / 100) : code;
}

export function messageOf(body: unknown): string | undefined {
  if (typeof body !== "object" || body === null) return undefined;
  const b = body as { message?: unknown; error?: { message?: unknown } };
  if (typeof b.message === "string") return b.message;
  if (typeof b.error?.message === "string") return b.error.message;
  return undefined;
}

/** 5xx, 408 and 429 are retryable; every other 4xx is not (retrying cannot fix the request). */
export function errorForStatus(
  status: number,
  serverMessage: string,
  context: Record<string, unknown>,
): DriftlineError {
  const message = `Kafka REST ${status}: ${serverMessage}`;
  const options = { context: { ...context, status } };
  if (status >= 500 || status === 408) return new DependencyUnavailableError(message, options);
  switch (status) {
    case 400:
    case 422:
      return new ValidationError(message, [], options);
    case 401:
      return new DriftlineError("UNAUTHENTICATED", message, options);
    case 403:
      return new DriftlineError("FORBIDDEN", message, options);
    case 404:
      return new NotFoundError(message, options);
    case 409:
      return new ConflictError(message, options);
    case 413:
      return new DriftlineError("PAYLOAD_TOO_LARGE", message, options);
    case 415:
      return new DriftlineError("UNSUPPORTED_MEDIA_TYPE", message, options);
    case 429:
      return new DriftlineError("RATE_LIMITED", message, { ...options, retryable: true });
    default:
      return new DriftlineError("INTERNAL", message, options);
  }
}
