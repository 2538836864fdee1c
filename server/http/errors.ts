/**
 * Matrix errors: what every client and server sees when something is wrong.
 * Spec: client-server-api/_index.md "Standard error response" and the common error codes.
 */

export class MatrixError extends Error {
  constructor(
    readonly status: number,
    readonly errcode: string,
    message: string,
    /** Extra top-level fields for the error body (e.g. retry_after_ms, soft_logout). */
    readonly extra: Record<string, unknown> = {},
  ) {
    super(message);
  }

  toJSON(): Record<string, unknown> {
    return { errcode: this.errcode, error: this.message, ...this.extra };
  }
}

export const badJson = (msg: string) => new MatrixError(400, 'M_BAD_JSON', msg);
export const notJson = (msg = 'Content not JSON.') => new MatrixError(400, 'M_NOT_JSON', msg);
export const missingParam = (msg: string) => new MatrixError(400, 'M_MISSING_PARAM', msg);
export const invalidParam = (msg: string) => new MatrixError(400, 'M_INVALID_PARAM', msg);
export const forbidden = (msg: string) => new MatrixError(403, 'M_FORBIDDEN', msg);
export const notFound = (msg = 'Not found') => new MatrixError(404, 'M_NOT_FOUND', msg);
export const unrecognized = (msg = 'Unrecognized request', status = 404) => new MatrixError(status, 'M_UNRECOGNIZED', msg);
export const tooLarge = (msg = 'Request too large') => new MatrixError(413, 'M_TOO_LARGE', msg);
export const limitExceeded = (retryAfterMs: number) =>
  new MatrixError(429, 'M_LIMIT_EXCEEDED', 'Too many requests', { retry_after_ms: retryAfterMs });
export const unknownToken = (msg = 'Unknown access token', softLogout = false) =>
  new MatrixError(401, 'M_UNKNOWN_TOKEN', msg, { soft_logout: softLogout });
export const missingToken = () => new MatrixError(401, 'M_MISSING_TOKEN', 'Missing access token');
export const unknownError = (msg = 'Internal server error') => new MatrixError(500, 'M_UNKNOWN', msg);
