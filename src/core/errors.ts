/** The one error type Driftline throws: a code a caller can branch on, a message a user can act on. */

export const ERROR_CODES = [
  "VALIDATION",
  "UNAUTHENTICATED",
  "FORBIDDEN",
  "NOT_FOUND",
  "CONFLICT",
  "PAYLOAD_TOO_LARGE",
  "RATE_LIMITED",
  "UNSUPPORTED_MEDIA_TYPE",
  "UNPROCESSABLE",
  "DEPENDENCY_UNAVAILABLE",
  "CONFIG",
  "INTERNAL",
] as const;

export type ErrorCode = (typeof ERROR_CODES)[number];

export interface FieldIssue {
  /** Dotted path of the offending field, e.g. `data.3.user_data.em`. */
  field: string;
  message: string;
}

export interface DriftlineErrorOptions {
  retryable?: boolean;
  cause?: unknown;
  /** Extra facts for logs and for the `details` of an HTTP error body. Never put PII here. */
  context?: Record<string, unknown>;
}

export class DriftlineError extends Error {
  readonly code: ErrorCode;
  readonly retryable: boolean;
  readonly context: Record<string, unknown> | undefined;

  constructor(code: ErrorCode, message: string, options: DriftlineErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = "DriftlineError";
    this.code = code;
    this.retryable = options.retryable ?? false;
    this.context = options.context;
  }
}

export class ValidationError extends DriftlineError {
  readonly issues: FieldIssue[];
  constructor(message: string, issues: FieldIssue[] = [], options: DriftlineErrorOptions = {}) {
    super("VALIDATION", message, options);
    this.name = "ValidationError";
    this.issues = issues;
  }
}

export class NotFoundError extends DriftlineError {
  constructor(message: string, options: DriftlineErrorOptions = {}) {
    super("NOT_FOUND", message, options);
    this.name = "NotFoundError";
  }
}

export class ConflictError extends DriftlineError {
  constructor(message: string, options: DriftlineErrorOptions = {}) {
    super("CONFLICT", message, options);
    this.name = "ConflictError";
  }
}

export class DependencyUnavailableError extends DriftlineError {
  constructor(message: string, options: DriftlineErrorOptions = {}) {
    super("DEPENDENCY_UNAVAILABLE", message, { retryable: true, ...options });
    this.name = "DependencyUnavailableError";
  }
}

export class ConfigError extends DriftlineError {
  constructor(message: string, options: DriftlineErrorOptions = {}) {
    super("CONFIG", message, options);
    this.name = "ConfigError";
  }
}

export function isDriftlineError(value: unknown): value is DriftlineError {
  return value instanceof DriftlineError;
}

/** The HTTP status every program answers for each error code. */
export const STATUS_BY_CODE = {
  VALIDATION: 400,
  UNAUTHENTICATED: 401,
  FORBIDDEN: 403,
  NOT_FOUND: 404,
  CONFLICT: 409,
  PAYLOAD_TOO_LARGE: 413,
  UNSUPPORTED_MEDIA_TYPE: 415,
  UNPROCESSABLE: 422,
  RATE_LIMITED: 429,
  INTERNAL: 500,
  CONFIG: 500,
  DEPENDENCY_UNAVAILABLE: 503,
} as const satisfies Record<ErrorCode, number>;

/** The one error body of every HTTP API: `{ error: { code, message, requestId, details? } }`. */
export interface ErrorBody {
  error: { code: ErrorCode; message: string; requestId: string; details?: unknown };
}

export function errorBody(
  code: ErrorCode,
  message: string,
  requestId: string,
  details?: unknown,
): ErrorBody {
  return { error: { code, message, requestId, ...(details === undefined ? {} : { details }) } };
}
