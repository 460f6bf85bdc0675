/** How `request` retries an idempotent query the network or an overloaded gateway failed (502, 503). */
export interface RetryOptions {
  /** Further attempts after the first; default 2, at most 10. 0 turns retries off. */
  retries?: number;
  /** The first backoff; it doubles with each attempt. Default 200 ms. */
  baseDelayMs?: number;
  /** No single wait is longer, a server's Retry-After included. Default 2000 ms. */
  maxDelayMs?: number;
}

export interface RetryPolicy {
  retries: number;
  delay(attempt: number, retryAfter: string | null): number;
}

export function retryPolicy(options: RetryOptions | false | undefined): RetryPolicy {
  const retries = options === false ? 0 : Math.min(10, Math.max(0, Math.floor(options?.retries ?? 2)));
  const base = Math.max(0, (options || {}).baseDelayMs ?? 200);
  const max = Math.max(base, (options || {}).maxDelayMs ?? 2000);
  return {
    retries,
    delay(attempt, retryAfter) {
      const asked = retryAfter !== null && /^\d+$/.test(retryAfter.trim()) ? Number(retryAfter) * 1000 : 0;
      // Exponential backoff with "equal jitter": never zero, and clients that failed together spread out.
      const ceiling = Math.min(max, base * 2 ** attempt);
      return Math.min(max, Math.max(asked, ceiling / 2 + Math.random() * (ceiling / 2)));
    },
  };
}

export const RETRYABLE_STATUS = new Set([502, 503]);

/** Resolves after `ms`, or rejects with the signal's reason when it fires first. */
export function sleep(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(signal.reason);
      return;
    }
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal?.reason);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
