import { setMaxListeners } from 'node:events';
import { DEADLINE_EXCEEDED_MESSAGE, DEADLINE_SQLSTATES, privgraphError } from './errors';

export { DEADLINE_EXCEEDED_MESSAGE, DEADLINE_SQLSTATES };

/**
 * Request deadlines (docs/security.md#deadlines). The gateway fixes one per request and every hop passes on
 * the budget that is LEFT, in whole milliseconds (relative, like gRPC's grpc-timeout), so the clocks of
 * different hosts never have to agree. Each process turns the budget back into an absolute time of its own
 * (a monotonic clock), which everything in that request checks.
 */
export const DEADLINE_HEADER = 'x-privgraph-deadline-ms';

/** The gateway's default budget for a request, and the one a service assumes when a request carries none. */
export const DEFAULT_DEADLINE_MS = 10_000;
/** No configuration may allow more than this (REQUEST_DEADLINE_MS is bounded by it). */
export const MAX_DEADLINE_MS = 120_000;

type HeaderSource = { header(name: string): string | undefined };

const BUDGET_PATTERN = /^\d{1,9}$/;

/** The remaining budget a header value states, in ms; undefined when absent or malformed (not plain decimal digits). */
export function parseDeadlineHeader(raw: string | undefined): number | undefined {
  if (raw === undefined) return undefined;
  const value = raw.trim();
  return BUDGET_PATTERN.test(value) ? Number(value) : undefined;
}

/** A point in time in this process, after which the request's work is abandoned. Cheap: no timer unless `signal` is read. */
export class Deadline {
  private abortSignal: AbortSignal | undefined;

  private constructor(
    /** performance.now() at which the budget runs out (monotonic, local to this process). */
    readonly at: number,
  ) {}

  /** A deadline `ms` from now. */
  static in(ms: number): Deadline {
    return new Deadline(performance.now() + Math.max(0, ms));
  }

  /** Milliseconds left, never negative, rounded down (so a hop never claims more than there is). */
  remainingMs(): number {
    return Math.max(0, Math.floor(this.at - performance.now()));
  }

  expired(): boolean {
    return performance.now() >= this.at;
  }

  /** The value for DEADLINE_HEADER on a call made now. */
  header(): string {
    return String(this.remainingMs());
  }

  /** `min(timeoutMs, remaining)`: the timeout for one outgoing call that must also end by the deadline. */
  timeoutFor(timeoutMs: number): number {
    return Math.min(timeoutMs, this.remainingMs());
  }

  /** Aborts when the deadline passes. Made on first use and shared by every call of the request (one timer at most). */
  get signal(): AbortSignal {
    if (!this.abortSignal) {
      this.abortSignal = AbortSignal.timeout(Math.max(1, this.remainingMs()));
      // Every subgraph fetch of the request listens on it at once; past 10, Node would warn of a leak.
      setMaxListeners(1000, this.abortSignal);
    }
    return this.abortSignal;
  }

  /** Throws DEADLINE_EXCEEDED when the deadline has passed (call it before releasing anything). */
  check(): void {
    if (this.expired()) throw deadlineExceeded();
  }

  /**
   * `work`, or DEADLINE_EXCEEDED at the deadline, whichever comes first (the work itself goes on, bounded by its own
   * timeouts: the database's statement_timeout and lock_timeout). Uses the request's one signal.
   */
  race<T>(work: Promise<T>): Promise<T> {
    if (this.expired()) {
      work.catch(() => undefined);
      return Promise.reject(deadlineExceeded());
    }
    const signal = this.signal;
    return new Promise<T>((resolve, reject) => {
      const onAbort = () => reject(deadlineExceeded());
      signal.addEventListener('abort', onAbort, { once: true });
      work.then(
        (value) => {
          signal.removeEventListener('abort', onAbort);
          resolve(value);
        },
        (error: unknown) => {
          signal.removeEventListener('abort', onAbort);
          reject(error);
        },
      );
    });
  }
}

export interface DeadlineSettings {
  /** The budget of a request that states none. */
  defaultMs: number;
  /** No request gets more than this, whatever its header says. */
  maxMs: number;
}

export const DEFAULT_DEADLINE_SETTINGS: DeadlineSettings = { defaultMs: DEFAULT_DEADLINE_MS, maxMs: DEFAULT_DEADLINE_MS };

/** The deadline of each request, fixed when it arrives (shared/server/graphql-service.ts binds it first thing). */
const bound = new WeakMap<object, Deadline>();

/** Fixes the request's deadline from its header and the service's settings; call once, when the request arrives. */
export function bindDeadline(req: HeaderSource & object, settings: DeadlineSettings): Deadline {
  const deadline = deadlineFrom(req, settings);
  bound.set(req, deadline);
  return deadline;
}

/** The deadline bound to the request on arrival; a request no service bound (a test's own server) gets the defaults from now. */
export function deadlineOf(req: HeaderSource & object): Deadline {
  return bound.get(req) ?? bindDeadline(req, DEFAULT_DEADLINE_SETTINGS);
}

/**
 * The deadline of an incoming request: the budget in DEADLINE_HEADER, capped at `maxMs`; a missing or malformed
 * header gets `defaultMs` (also capped). A budget of 0 is well-formed and means the caller has no time left.
 */
export function deadlineFrom(req: HeaderSource, settings: DeadlineSettings = DEFAULT_DEADLINE_SETTINGS): Deadline {
  const stated = parseDeadlineHeader(req.header(DEADLINE_HEADER));
  return Deadline.in(Math.min(stated ?? settings.defaultMs, settings.maxMs));
}

/**
 * The coded error for work abandoned at its deadline. Pass `{ httpStatus: 504 }` when it refuses the whole request
 * before execution (context creation); inside a resolver it is a field error like any other.
 */
export const deadlineExceeded = (options: { httpStatus?: number } = {}) =>
  privgraphError('DEADLINE_EXCEEDED', DEADLINE_EXCEEDED_MESSAGE, options);


/** True for an abandoned wait: an aborted or timed-out fetch (AbortSignal), or a DEADLINE_EXCEEDED error. */
export function isDeadlineError(error: unknown): boolean {
  const name = (error as { name?: unknown } | undefined)?.name;
  if (name === 'TimeoutError') return true;
  return (error as { extensions?: { code?: unknown } } | undefined)?.extensions?.code === 'DEADLINE_EXCEEDED';
}

/**
 * One statement for the start of a transaction on a request's path: SET LOCAL statement_timeout ($1) and lock_timeout
 * ($2), in ms, for the rest of the transaction.
 */
export const SET_LOCAL_DEADLINE_SQL = "SELECT set_config('statement_timeout', $1, true), set_config('lock_timeout', $2, true)";

type TransactionRunner = {
  query(sql: string, params?: unknown[]): Promise<unknown>;
  /** A TypeORM EntityManager's data source, whose pool settings hold the ceilings (shared/db/data-source.ts). */
  connection?: { options?: { extra?: { statement_timeout?: unknown; lock_timeout?: unknown } } };
};

/**
 * Bounds the current transaction by the deadline (call it first inside the transaction): its statements and lock waits
 * end by the budget left, never later than the pool's own ceilings. Throws DEADLINE_EXCEEDED when nothing is left.
 */
export async function boundTransaction(runner: TransactionRunner, deadline: Deadline | undefined): Promise<void> {
  if (!deadline) return;
  // At least 1 ms: 0 would mean "no timeout".
  const left = deadline.remainingMs();
  if (left <= 0) throw deadlineExceeded();
  const extra = runner.connection?.options?.extra;
  const capped = (ceiling: unknown) => String(typeof ceiling === 'number' && ceiling > 0 ? Math.min(left, ceiling) : left);
  await runner.query(SET_LOCAL_DEADLINE_SQL, [capped(extra?.statement_timeout), capped(extra?.lock_timeout)]);
}

/**
 * `work` inside a transaction bounded by the deadline, from start to COMMIT: boundTransaction first, then the work, then
 * the deadline once more as the last step before COMMIT. SET LOCAL bounds each statement and lock wait, not their sum,
 * so a transaction of several statements could otherwise commit after its caller gave up; past the deadline it throws
 * DEADLINE_EXCEEDED and the transaction rolls back (nothing is stored). Call it as the transaction's callback:
 * `dataSource.transaction((manager) => withinDeadline(manager, deadline, () => …))`.
 */
export async function withinDeadline<T>(runner: TransactionRunner, deadline: Deadline | undefined, work: () => Promise<T>): Promise<T> {
  await boundTransaction(runner, deadline);
  const result = await work();
  deadline?.check();
  return result;
}

/** statement_timeout or lock_timeout ended the statement (raw from pg, or wrapped by TypeORM as QueryFailedError.driverError). */
export function isDeadlineSqlError(error: unknown): boolean {
  const candidates = [error, (error as { driverError?: unknown } | undefined)?.driverError];
  return candidates.some((candidate) => {
    const code = (candidate as { code?: unknown } | undefined)?.code;
    return typeof code === 'string' && DEADLINE_SQLSTATES.has(code);
  });
}

/** For a bounded transaction's catch: its timeouts become DEADLINE_EXCEEDED (so an outcome event records that code); anything else is rethrown as is. */
export function rethrowAsDeadline(error: unknown): never {
  throw isDeadlineSqlError(error) ? deadlineExceeded() : error;
}
