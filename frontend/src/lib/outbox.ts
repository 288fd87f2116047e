/**
 * Submits that must not be lost: each is kept in localStorage under its client_id until the
 * server has answered, and is re-sent with the same client_id (the server's idempotency key),
 * so a retry after a network failure, or after a reload, never stores it twice.
 */
import { ApiError, isRetryable, request } from "../api/client";

const OUTBOX_KEY = "prefloop.outbox";

export interface PendingSubmit {
  clientId: string;
  /** Who submitted it: only their session re-sends it (another user's token would be refused). */
  owner: string | null;
  url: string;
  body: Record<string, unknown>;
  createdAt: number;
}

let owner: string | null = null;

/** The logged-in user, whose pending submits this page may send. */
export function setOutboxOwner(username: string | null): void {
  owner = username;
}

function load(): Record<string, PendingSubmit> {
  try {
    return JSON.parse(localStorage.getItem(OUTBOX_KEY) ?? "{}") as Record<string, PendingSubmit>;
  } catch {
    return {};
  }
}

function store(entries: Record<string, PendingSubmit>): void {
  localStorage.setItem(OUTBOX_KEY, JSON.stringify(entries));
}

export function pendingSubmits(): PendingSubmit[] {
  return Object.values(load());
}

function remember(entry: PendingSubmit): void {
  store({ ...load(), [entry.clientId]: entry });
}

function forget(clientId: string): void {
  const entries = load();
  delete entries[clientId];
  store(entries);
}

export function newClientId(): string {
  if (typeof crypto !== "undefined" && "randomUUID" in crypto) return crypto.randomUUID();
  return `${Date.now().toString(36)}-${Math.random().toString(36).slice(2)}`;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export interface SendOptions {
  /** Called before each retry with the attempt number (2, 3, ...). */
  onRetry?: (attempt: number, error: unknown) => void;
  /** Backoff in milliseconds per retry; the last value repeats until the server answers. */
  delaysMs?: number[];
  /** Stop retrying after this many attempts (the entry stays in the outbox for a later flush). */
  maxAttempts?: number;
}

/**
 * POSTs `body` (which carries `client_id`) to `url` until the server answers. Resolves with the
 * server's answer; rejects with ApiError when the server refuses it (that is final: the entry is
 * dropped) or with the last network error after `maxAttempts` (the entry stays for `flushOutbox`).
 */
export async function sendReliably<T>(
  url: string,
  body: Record<string, unknown> & { client_id: string },
  { onRetry, delaysMs = [250, 750, 1500, 3000, 5000], maxAttempts = Infinity }: SendOptions = {},
): Promise<{ status: number; data: T }> {
  remember({ clientId: body.client_id, owner, url, body, createdAt: Date.now() });
  for (let attempt = 1; ; attempt++) {
    try {
      const result = await request<T>("POST", url, body);
      forget(body.client_id);
      return result;
    } catch (error) {
      if (!isRetryable(error)) {
        if (error instanceof ApiError) forget(body.client_id);
        throw error;
      }
      if (attempt >= maxAttempts) throw error;
      onRetry?.(attempt + 1, error);
      await sleep(delaysMs[Math.min(attempt - 1, delaysMs.length - 1)]);
    }
  }
}

let lastFlush: Promise<number> = Promise.resolve(0);

/** Resolves once the latest flush has finished (asking for the next task before that could
 * show again a task whose judgement is still on its way). */
export function outboxFlushed(): Promise<number> {
  return lastFlush;
}

/** Re-sends whatever an earlier page left unsent; returns how many reached the server. */
export function flushOutbox(): Promise<number> {
  lastFlush = sendPending();
  return lastFlush;
}

async function sendPending(): Promise<number> {
  let sent = 0;
  for (const entry of pendingSubmits().filter((e) => (e.owner ?? null) === owner)) {
    try {
      await sendReliably(entry.url, entry.body as Record<string, unknown> & { client_id: string }, { maxAttempts: 2 });
      sent += 1;
    } catch {
      /* still offline or refused: a refused one was dropped, an unsent one stays */
    }
  }
  return sent;
}
