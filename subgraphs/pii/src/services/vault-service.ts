import { privgraphError } from '../../../../shared/errors';
import type { Deadline } from '../../../../shared/deadline';
import { UniqueViolation } from '../../../../shared/db/errors';
import type { ErasureLedger } from '../../../../shared/erasure-ledger';
import { componentLogger } from '../../../../shared/logger';
import type { BlindIndexRow, DataKeyRow, SubjectPlacementRow } from '../db/entities';
import type { PlacementRepository } from '../db/repositories/placement-repository';
import { ConcurrentChange, type RegionRepository, type SealedField } from '../db/repositories/region-repository';
import type { KeyStoreRepository } from '../db/repositories/key-store-repository';
import { indexInput, type IndexKind } from './blind-index';
import { dekAad, fieldAad, newDataKey, open, seal } from './crypto';
import type { DataKeyCache } from './data-key-cache';
import { KeyIntegrityError, type IndexKey, type KeyEncryptionKey } from './key-provider';
import { decodeField, type AddressValue, type ProfileField, type ValidatedProfile } from './profile-input';
import { chooseRegion, requireRegion, type RegionPolicy } from './regions';

/** One region: its data store, its key store, its KEK and its blind-index key. */
export interface RegionStore {
  code: string;
  data: RegionRepository;
  keys: KeyStoreRepository;
  kek: KeyEncryptionKey;
  index: IndexKey;
}

/** A subject's ciphertexts as loaded for one request, with the data keys they need, unwrapped. */
export interface EncryptedRecord {
  subjectId: string;
  region: string;
  fields: Map<string, SealedField>;
  deks: Map<number, Buffer>;
}

export type VaultService = ReturnType<typeof createVaultService>;

/** Where a write goes: the subject's existing placement, or the region a first write will place them in. */
export interface PlacementPlan {
  existing: SubjectPlacementRow | undefined;
  region: string;
}

const logger = componentLogger('pii.vault');
const INDEXED: Record<IndexKind, ProfileField> = { email: 'email', phone: 'phone' };

/**
 * The encrypted, region-pinned store. A subject's profile lives in exactly one region (architecture
 * invariant 7): fields sealed with AES-256-GCM under the subject's data key, the data key wrapped by
 * the region's KEK and kept in the region's key store, apart from the ciphertexts.
 */
export function createVaultService(deps: {
  placements: PlacementRepository;
  stores: ReadonlyMap<string, RegionStore>;
  policy: RegionPolicy;
  cache: DataKeyCache;
  now: () => Date;
  /** Subjects erased for good (the erasure ledger): nothing is ever stored for them again. */
  erasures: ErasureLedger;
}) {
  const { placements, stores, policy, cache, now, erasures } = deps;
  const storeOf = (region: string): RegionStore => {
    const store = stores.get(region);
    if (!store) throw new Error(`no store for region ${region}`);
    return store;
  };

  /** Unwraps key-store rows in one provider call and caches the data keys. */
  async function unwrapRows(store: RegionStore, rows: DataKeyRow[]): Promise<Buffer[]> {
    const deks = await store.kek.unwrapMany(rows.map((row) => ({ wrapped: row.wrapped, context: dekAad(row.subjectId) })));
    rows.forEach((row, i) => cache.set(store.code, row.subjectId, row.generation, deks[i]));
    return deks;
  }

  /**
   * The data keys of (subject, generation) pairs: each looked up in the cache once, the rest read from
   * the key store in one query and unwrapped in one provider call.
   */
  async function dataKeys(store: RegionStore, wanted: Map<string, Set<number>>): Promise<Map<string, Map<number, Buffer>>> {
    const deks = new Map<string, Map<number, Buffer>>();
    const put = (subjectId: string, generation: number, dek: Buffer) => {
      let bySubject = deks.get(subjectId);
      if (!bySubject) deks.set(subjectId, (bySubject = new Map()));
      bySubject.set(generation, dek);
    };
    const missing = new Map<string, Set<number>>();
    for (const [subjectId, generations] of wanted) {
      for (const generation of generations) {
        const cached = cache.get(store.code, subjectId, generation);
        if (cached) put(subjectId, generation, cached);
        else missing.set(subjectId, (missing.get(subjectId) ?? new Set()).add(generation));
      }
    }
    if (missing.size > 0) {
      const rows = [...(await store.keys.findKeys([...missing.keys()])).values()].flat().filter((row) => missing.get(row.subjectId)?.has(row.generation));
      const unwrapped = await unwrapRows(store, rows);
      rows.forEach((row, i) => put(row.subjectId, row.generation, unwrapped[i]));
    }
    return deks;
  }

  /** Ciphertexts and their data keys for one region's subjects: one query per store, the key store only on cache misses. */
  async function loadFromRegion(store: RegionStore, subjectIds: string[]): Promise<EncryptedRecord[]> {
    const fieldsBySubject = await store.data.findFields(subjectIds);
    const wanted = new Map([...fieldsBySubject].map(([subjectId, fields]) => [subjectId, new Set([...fields.values()].map((f) => f.keyGeneration))]));
    const deks = await dataKeys(store, wanted);
    return [...fieldsBySubject].map(([subjectId, fields]) => ({ subjectId, region: store.code, fields, deks: deks.get(subjectId) ?? new Map() }));
  }

  async function loadRecords(subjectIds: readonly string[]): Promise<Map<string, EncryptedRecord>> {
    const byRegion = new Map<string, string[]>();
    for (const placement of (await placements.findPlacements(subjectIds)).values()) {
      byRegion.set(placement.region, [...(byRegion.get(placement.region) ?? []), placement.subjectId]);
    }
    const loaded = await Promise.all([...byRegion].map(([region, ids]) => loadFromRegion(storeOf(region), ids)));
    return new Map(loaded.flat().map((record) => [record.subjectId, record]));
  }

  function decryptSealed(record: EncryptedRecord, sealed: SealedField): string | null {
    const dek = record.deks.get(sealed.keyGeneration);
    // No key: the subject was crypto-shredded and these ciphertexts came back (e.g. a restored backup).
    if (!dek) {
      logger.warn({ region: record.region, field: sealed.field }, 'ciphertext without a data key (shredded); treated as erased');
      return null;
    }
    try {
      return open(dek, sealed.ciphertext, fieldAad(record.subjectId, sealed.field)).toString('utf8');
    } catch {
      throw new KeyIntegrityError('a ciphertext failed authentication');
    }
  }

  /** The subject's current data key (newest generation), created on first write. */
  async function currentKey(store: RegionStore, subjectId: string): Promise<{ generation: number; dek: Buffer }> {
    for (let attempt = 0; attempt < 2; attempt += 1) {
      const rows = (await store.keys.findKeys([subjectId])).get(subjectId) ?? [];
      const latest = rows.at(-1);
      if (latest) {
        const dek = cache.get(store.code, subjectId, latest.generation) ?? (await unwrapRows(store, [latest]))[0];
        return { generation: latest.generation, dek };
      }
      try {
        return await createKey(store, subjectId, 1);
      } catch (error) {
        // Two first writes raced: the loser uses the winner's key.
        if (!(error instanceof UniqueViolation)) throw error;
      }
    }
    throw new ConcurrentChange();
  }

  async function createKey(store: RegionStore, subjectId: string, generation: number): Promise<{ generation: number; dek: Buffer }> {
    const dek = newDataKey();
    const [wrapped] = await store.kek.wrapMany([{ dek, context: dekAad(subjectId) }]);
    await store.keys.insertKey({ subjectId, generation, wrapped: wrapped.wrapped, kekVersion: wrapped.version, createdAt: now() });
    cache.set(store.code, subjectId, generation, dek);
    return { generation, dek };
  }

  async function indexDigests(store: RegionStore, values: Partial<Record<ProfileField, string | null>>): Promise<Map<BlindIndexRow['kind'], Buffer | null>> {
    const index = new Map<BlindIndexRow['kind'], Buffer | null>();
    for (const [kind, field] of Object.entries(INDEXED) as [IndexKind, ProfileField][]) {
      if (!(field in values)) continue;
      const value = values[field];
      index.set(kind, value == null ? null : await store.index.digest(indexInput(kind, value)));
    }
    return index;
  }

  /** Loads, unwraps and decrypts every field of one subject (re-key, move). */
  async function openWholeRecord(store: RegionStore, subjectId: string) {
    const [record] = await loadFromRegion(store, [subjectId]);
    const plaintext: Partial<Record<ProfileField, string>> = {};
    for (const sealed of record?.fields.values() ?? []) {
      const value = decryptSealed(record, sealed);
      if (value !== null) plaintext[sealed.field as ProfileField] = value;
    }
    return { fields: record?.fields ?? new Map<string, SealedField>(), plaintext };
  }

  const sealAll = (subjectId: string, generation: number, dek: Buffer, plaintext: Partial<Record<ProfileField, string>>): SealedField[] =>
    Object.entries(plaintext).map(([field, value]) => ({
      field,
      keyGeneration: generation,
      ciphertext: seal(dek, Buffer.from(value as string, 'utf8'), fieldAad(subjectId, field)),
    }));

  async function planPlacement(subjectId: string, profile: ValidatedProfile, requested: { region?: string | null }): Promise<PlacementPlan> {
    const existing = (await placements.findPlacements([subjectId])).get(subjectId);
    if (existing) {
      if (requested.region != null && requested.region !== existing.region) {
        throw privgraphError('BAD_USER_INPUT', `This profile is stored in region ${existing.region}; only a platform admin can move it`, { field: 'input.region' });
      }
      if (existing.movingTo) throw privgraphError('CONFLICT', 'This profile is being moved to another region; retry shortly');
      return { existing, region: existing.region };
    }
    const country = profile.address ? (JSON.parse(profile.address) as AddressValue).country : null;
    return { existing: undefined, region: chooseRegion(policy, { region: requested.region, country }) };
  }

  async function requirePlacement(subjectId: string) {
    const placement = (await placements.findPlacements([subjectId])).get(subjectId);
    if (!placement) throw privgraphError('NOT_FOUND', 'No profile is stored for this subject');
    return placement;
  }

  /**
   * Crypto-shredding: destroys the subject's data keys in every region's key store first (from that
   * moment every copy of the ciphertexts, backups included, is undecryptable), then deletes the
   * ciphertexts, index entries and placement. Idempotent: a repeat removes whatever is left.
   */
  async function shred(subjectId: string): Promise<{ region: string | null; keysDestroyed: number; ciphertextsDeleted: number }> {
    const placement = (await placements.findPlacements([subjectId])).get(subjectId);
    let keysDestroyed = 0;
    for (const store of stores.values()) keysDestroyed += await store.keys.deleteKeys(subjectId);
    // After the keys are gone, so a read in between cannot put one back.
    cache.dropSubject(subjectId);
    let ciphertextsDeleted = 0;
    for (const store of stores.values()) ciphertextsDeleted += (await store.data.deleteSubject(subjectId)).fields;
    await placements.deletePlacement(subjectId);
    return { region: placement?.region ?? null, keysDestroyed, ciphertextsDeleted };
  }

  /**
   * A write that raced an erasure (it passed the check, then the erasure appended to the ledger and
   * shredded, then the write landed): the ledger entry comes before the shred, so looking again after
   * the write catches every interleaving; what the write brought back is destroyed and the write refused.
   */
  async function undoIfErased(subjectId: string): Promise<void> {
    if (!(await erasures.has(subjectId))) return;
    await shred(subjectId);
    throw privgraphError('FORBIDDEN', 'This account has been erased');
  }

  return {
    loadRecords,

    /** Regions of subjects that have a stored profile. */
    async regionsOf(subjectIds: readonly string[]): Promise<Map<string, string>> {
      const found = await placements.findPlacements(subjectIds);
      return new Map([...found].map(([id, placement]) => [id, placement.region]));
    },

    /** Decrypts one field of a loaded record; null when the subject has not stored it. */
    decrypt(record: EncryptedRecord | undefined, field: ProfileField): string | AddressValue | null {
      const sealed = record?.fields.get(field);
      if (!record || !sealed) return null;
      const plaintext = decryptSealed(record, sealed);
      return plaintext === null ? null : decodeField(field, plaintext);
    },

    /**
     * Encrypts and stores validated fields. The first write places the subject in a region (explicit
     * region, else the address country, else the default); afterwards the region is fixed.
     */
    /** Where a write would go, checked before anything is audited or written (unknown region, unsupported country, fixed region). */
    planPlacement,

    /** Stores validated fields where `plan` (from planPlacement, made before the write was audited) says. */
    async store(subjectId: string, profile: ValidatedProfile, plan: PlacementPlan, deadline?: Deadline): Promise<string> {
      // A token mapped onto an erased subject by a directory cache entry of the last seconds must not store anything.
      if (await erasures.has(subjectId)) throw privgraphError('FORBIDDEN', 'This account has been erased');
      const { placement, created } = plan.existing
        ? { placement: plan.existing, created: false }
        : await placements.placeSubject(subjectId, plan.region, now());
      const store = storeOf(placement.region);
      try {
        const { generation, dek } = await currentKey(store, subjectId);
        const values = Object.entries(profile) as [ProfileField, string | null][];
        const upserts = sealAll(subjectId, generation, dek, Object.fromEntries(values.filter(([, value]) => value !== null)));
        const deletes = values.filter(([, value]) => value === null).map(([field]) => field);
        await store.data.saveFields({ subjectId, upserts, deletes, updatedAt: now(), index: await indexDigests(store, profile), deadline });
      } catch (error) {
        // A first write that failed leaves no placement behind (unless a concurrent write stored data meanwhile).
        if (created && !(await store.data.findFields([subjectId])).has(subjectId)) {
          await placements.deletePlacement(subjectId).catch(() => undefined);
        }
        throw error;
      }
      await undoIfErased(subjectId);
      return placement.region;
    },

    /** Whether a profile is stored for the subject (admin operations refuse unknown subjects before auditing). */
    async hasProfile(subjectId: string): Promise<boolean> {
      return (await placements.findPlacements([subjectId])).has(subjectId);
    },

    /** Re-encrypts every field of a subject under a fresh data key, then destroys the old keys. */
    async rekey(subjectId: string): Promise<{ region: string; generation: number }> {
      const placement = await requirePlacement(subjectId);
      const store = storeOf(placement.region);
      const { fields, plaintext } = await openWholeRecord(store, subjectId);
      const latest = ((await store.keys.findKeys([subjectId])).get(subjectId) ?? []).at(-1)?.generation ?? 0;
      const fresh = await createKey(store, subjectId, latest + 1);
      await store.data.replaceRecord(subjectId, fields, sealAll(subjectId, fresh.generation, fresh.dek, plaintext), new Map(), now());
      await store.keys.deleteKeys(subjectId, fresh.generation);
      cache.dropSubject(subjectId);
      cache.set(store.code, subjectId, fresh.generation, fresh.dek);
      await undoIfErased(subjectId);
      return { region: store.code, generation: fresh.generation };
    },

    shred,

    /**
     * Erasure (GDPR Art. 17): records the subject in the erasure ledger first — outside the databases,
     * so a restored backup is shredded again before anything is served —, then crypto-shreds.
     * Idempotent: a repeat finds the entry and removes whatever is left.
     */
    async erase(subjectId: string, requestId: string | null) {
      await erasures.append({ subjectId, requestId, erasedAt: now() });
      return shred(subjectId);
    },

    /**
     * Replays the erasure ledger before the service serves: any data key, ciphertext or placement of an
     * erased subject found in the stores (a database restored from a backup taken before the erasure)
     * is destroyed again. Returns how many subjects had something to destroy.
     */
    async replayErasures(): Promise<number> {
      const ids = [...new Set((await erasures.entries()).map((entry) => entry.subjectId))];
      let replayed = 0;
      for (let offset = 0; offset < ids.length; offset += 1000) {
        const chunk = ids.slice(offset, offset + 1000);
        const found = new Set((await placements.findPlacements(chunk)).keys());
        for (const store of stores.values()) {
          for (const id of (await store.keys.findKeys(chunk)).keys()) found.add(id);
          for (const id of await store.data.findSubjectsWithRows(chunk)) found.add(id);
        }
        for (const subjectId of found) {
          await shred(subjectId);
          replayed += 1;
        }
      }
      return replayed;
    },

    /**
     * Moves a profile to another region: copy (re-encrypted under a new data key and the target's KEK),
     * switch the placement, then erase the source. Writes are refused while the move runs; a failed
     * move leaves the source untouched and removes what it copied. Re-running a move is safe.
     */
    async move(subjectId: string, target: string): Promise<string> {
      requireRegion(policy, target, 'region');
      const placement = await requirePlacement(subjectId);
      const targetStore = storeOf(target);
      const eraseFrom = async (store: RegionStore) => {
        await store.keys.deleteKeys(subjectId);
        await store.data.deleteSubject(subjectId);
      };
      if (placement.region === target) {
        // Already there: clear what an interrupted move may have left elsewhere.
        for (const store of stores.values()) if (store.code !== target) await eraseFrom(store);
        return target;
      }
      if (!(await placements.beginMove(subjectId, target))) throw privgraphError('CONFLICT', 'Another move of this profile is in progress');
      const source = storeOf(placement.region);
      try {
        const { fields, plaintext } = await openWholeRecord(source, subjectId);
        await eraseFrom(targetStore);
        const fresh = await createKey(targetStore, subjectId, 1);
        await targetStore.data.replaceRecord(subjectId, new Map(), sealAll(subjectId, 1, fresh.dek, plaintext), await indexDigests(targetStore, plaintext), now());
        const after = (await source.data.findFields([subjectId])).get(subjectId) ?? new Map<string, SealedField>();
        const unchanged = after.size === fields.size && [...after].every(([field, sealed]) => fields.get(field)?.ciphertext.equals(sealed.ciphertext));
        if (!unchanged) throw new ConcurrentChange();
        await placements.completeMove(subjectId, target);
      } catch (error) {
        await eraseFrom(targetStore).catch(() => undefined);
        await placements.abandonMove(subjectId).catch(() => undefined);
        throw error;
      }
      cache.dropSubject(subjectId);
      await eraseFrom(source);
      await undoIfErased(subjectId);
      return target;
    },

    /** Exact-match lookup through each region's blind index; never decrypts. */
    async findByContact(kind: IndexKind, value: string): Promise<{ subjectId: string; region: string }[]> {
      const input = indexInput(kind, value, kind);
      const matches: { subjectId: string; region: string }[] = [];
      for (const store of stores.values()) {
        const digest = await store.index.digest(input);
        for (const subjectId of await store.data.findSubjectsByDigest(kind, digest)) matches.push({ subjectId, region: store.code });
      }
      return matches;
    },

    /** Each region's (or one region's) KEK status and how many data keys each KEK version wraps. */
    async regionKeys(only?: string) {
      const counts = await placements.countByRegion();
      return Promise.all(
        [...stores.values()].filter((store) => !only || store.code === only).map(async (store) => ({
          code: store.code,
          keyProvider: store.kek.provider,
          keyId: store.kek.keyId,
          ...(await store.kek.status()),
          dataKeys: await store.keys.countByVersion(),
          subjects: counts.get(store.code) ?? 0,
        })),
      );
    },

    cacheStats: () => cache.stats(),
  };
}
