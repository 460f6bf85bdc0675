import { LRUCache } from 'lru-cache';

export interface DataKeyCacheStats {
  hits: number;
  misses: number;
  size: number;
}

/**
 * Unwrapped data keys, in memory only, for a short TTL and up to a bounded count; never written
 * anywhere. Entries are dropped at once when a subject is shredded, re-keyed or moved and when a
 * region's KEK rotates. `max` or `ttlMs` 0 turns the cache off.
 */
export function createDataKeyCache(options: { ttlMs: number; max: number }) {
  const enabled = options.ttlMs > 0 && options.max > 0;
  const cache = enabled ? new LRUCache<string, Buffer>({ max: options.max, ttl: options.ttlMs, ttlAutopurge: false }) : null;
  const stats = { hits: 0, misses: 0 };
  const keyOf = (region: string, subjectId: string, generation: number) => `${region}/${subjectId}/${generation}`;

  return {
    get(region: string, subjectId: string, generation: number): Buffer | undefined {
      const found = cache?.get(keyOf(region, subjectId, generation));
      if (found) stats.hits += 1;
      else stats.misses += 1;
      return found;
    },
    set(region: string, subjectId: string, generation: number, dek: Buffer) {
      cache?.set(keyOf(region, subjectId, generation), dek);
    },
    dropSubject(subjectId: string) {
      for (const key of cache?.keys() ?? []) if (key.split('/')[1] === subjectId) cache?.delete(key);
    },
    dropRegion(region: string) {
      for (const key of cache?.keys() ?? []) if (key.startsWith(`${region}/`)) cache?.delete(key);
    },
    stats: (): DataKeyCacheStats => ({ ...stats, size: cache?.size ?? 0 }),
  };
}

export type DataKeyCache = ReturnType<typeof createDataKeyCache>;
