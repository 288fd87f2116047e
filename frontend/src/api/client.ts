/**
 * The one way the UI talks to the server: JSON over the REST API, signed in by the session cookie
 * (`POST /api/auth/session/`). No credential is kept where scripts on the page could read it: the
 * cookie is HttpOnly, and writes carry the CSRF cookie's value, as Django requires of a session.
 * Scripts use the same calls with an API token instead.
 */

const CSRF_COOKIE = "csrftoken";
const SAFE_METHODS = new Set(["GET", "HEAD", "OPTIONS"]);

// An API token must not sit in storage that any script on the page can read: drop one kept there.
localStorage.removeItem("prefloop.token");

/** The server answered with an error status; `message` is its one-line explanation. */
export class ApiError extends Error {
  readonly status: number;
  readonly field?: string;
  readonly body: unknown;

  constructor(status: number, message: string, body: unknown, field?: string) {
    super(message);
    this.status = status;
    this.body = body;
    this.field = field;
  }
}

/** The request never got an answer (offline, connection reset, server down). */
export class NetworkError extends Error {}

/** The CSRF cookie's value (set with the page and by `GET /api/auth/session/`), or "" before it is set. */
export function csrfToken(): string {
  for (const part of document.cookie.split(";")) {
    const [name, ...value] = part.trim().split("=");
    if (name === CSRF_COOKIE) return decodeURIComponent(value.join("="));
  }
  return "";
}

/** Turns DRF's error bodies ({detail}, {field: [msg]}, [msg]) into one readable line. */
export function errorMessage(body: unknown, status: number): { message: string; field?: string } {
  if (body && typeof body === "object" && !Array.isArray(body)) {
    const record = body as Record<string, unknown>;
    if (typeof record.detail === "string") {
      return { message: record.detail, field: typeof record.field === "string" ? record.field : undefined };
    }
    const [field, value] = Object.entries(record)[0] ?? [];
    if (field) {
      const text = Array.isArray(value) ? value.map(String).join(" ") : typeof value === "object" ? JSON.stringify(value) : String(value);
      return { message: field === "non_field_errors" ? text : `${field}: ${text}`, field };
    }
  }
  if (Array.isArray(body) && body.length) return { message: body.map(String).join(" ") };
  if (typeof body === "string" && body.trim() && !body.trimStart().startsWith("<")) {
    return { message: body.trim().slice(0, 300) };
  }
  return { message: `The server answered ${status}.` };
}

export interface ApiResult<T> {
  status: number;
  data: T;
}

export interface RequestOptions {
  /** FormData for file uploads; otherwise `body` is sent as JSON. */
  form?: FormData;
  signal?: AbortSignal;
}

/** Sends one request; resolves for 2xx, throws ApiError for 4xx/5xx and NetworkError without answer. */
export async function request<T = unknown>(
  method: string,
  path: string,
  body?: unknown,
  options: RequestOptions = {},
): Promise<ApiResult<T>> {
  const headers: Record<string, string> = { Accept: "application/json" };
  if (!SAFE_METHODS.has(method.toUpperCase())) headers["X-CSRFToken"] = csrfToken();
  let payload: BodyInit | undefined;
  if (options.form) payload = options.form;
  else if (body !== undefined) {
    headers["Content-Type"] = "application/json";
    payload = JSON.stringify(body);
  }
  let response: Response;
  try {
    response = await fetch(path, { method, headers, body: payload, signal: options.signal, credentials: "same-origin" });
  } catch (error) {
    if ((error as Error).name === "AbortError") throw error;
    throw new NetworkError(`Network error: ${(error as Error).message || "no answer from the server"}`);
  }
  const text = await response.text();
  let data: unknown = null;
  if (text) {
    try {
      data = JSON.parse(text);
    } catch {
      data = text;
    }
  }
  if (!response.ok) {
    const { message, field } = errorMessage(data, response.status);
    throw new ApiError(response.status, message, data, field);
  }
  return { status: response.status, data: data as T };
}

export const api = {
  get: <T>(path: string, options?: RequestOptions) => request<T>("GET", path, undefined, options),
  post: <T>(path: string, body?: unknown, options?: RequestOptions) => request<T>("POST", path, body, options),
  patch: <T>(path: string, body?: unknown) => request<T>("PATCH", path, body),
  put: <T>(path: string, body?: unknown) => request<T>("PUT", path, body),
  delete: <T>(path: string) => request<T>("DELETE", path),
};

/** Retries only what may not have reached the server: network failures and 502/503/504. */
export function isRetryable(error: unknown): boolean {
  if (error instanceof NetworkError) return true;
  return error instanceof ApiError && [502, 503, 504].includes(error.status);
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Runs `attempt` until it succeeds or fails for a reason a retry cannot fix. The caller keeps the
 * request idempotent (the same client_id every attempt), so a retry never doubles a write.
 */
export async function withRetry<T>(
  attempt: () => Promise<T>,
  { delaysMs = [300, 1000, 2000, 4000, 8000], onRetry }: { delaysMs?: number[]; onRetry?: (n: number, error: unknown) => void } = {},
): Promise<T> {
  for (let n = 0; ; n++) {
    try {
      return await attempt();
    } catch (error) {
      if (!isRetryable(error) || n >= delaysMs.length) throw error;
      onRetry?.(n + 1, error);
      await sleep(delaysMs[n]);
    }
  }
}
