import { LRUCache } from 'lru-cache';
import { UniqueViolation } from '../../../../shared/db/errors';
import { DependencyUnavailableError } from '../../../../shared/errors';
import type { VaultRepository, EncryptedRecord } from '../db/repositories/vault-repository';
import { dekAad, fieldAad, newDataKey, open, seal } from './crypto';
import type { KeyProvider } from './key-provider';
import { decodeField, type AddressValue, type ProfileField, type ValidatedProfile } from './profile-input';

export type VaultService = ReturnType<typeof createVaultService>;

/**
 * The encrypted store: one data key per subject (envelope encryption), fields sealed under it.
 * Unwrapped data keys live only in a small in-memory cache.
 */
export function createVaultService(deps: { repo: VaultRepository; keys: KeyProvider; now: () => Date; dekCacheTtlMs?: number }) {
  const { repo, keys, now } = deps;
  const dekCache = new LRUCache<string, Buffer>({ max: 10_000, ttl: deps.dekCacheTtlMs ?? 300_000 });

  async function dataKeyOf(record: Pick<EncryptedRecord, 'subjectId' | 'wrappedDek' | 'kekId'>): Promise<Buffer> {
    const cached = dekCache.get(record.subjectId);
    if (cached) return cached;
    let dek: Buffer;
    try {
      dek = await keys.unwrap(record.wrappedDek, record.kekId, dekAad(record.subjectId));
    } catch {
      throw new DependencyUnavailableError('keys', 'data key could not be unwrapped');
    }
    dekCache.set(record.subjectId, dek);
    return dek;
  }

  return {
    loadRecords: (subjectIds: readonly string[]) => repo.findRecords(subjectIds),

    /** Decrypts one field of a loaded record; null when the subject has not stored it. */
    async decrypt(record: EncryptedRecord | undefined, field: ProfileField): Promise<string | AddressValue | null> {
      const sealed = record?.fields.get(field);
      if (!record || !sealed) return null;
      const plaintext = open(await dataKeyOf(record), sealed, fieldAad(record.subjectId, field)).toString('utf8');
      return decodeField(field, plaintext);
    },

    /** Encrypts and stores validated fields in one transaction, creating the subject's data key on first write. */
    async store(subjectId: string, profile: ValidatedProfile): Promise<void> {
      try {
        await storeOnce(subjectId, profile);
      } catch (error) {
        // Two first writes raced to create the data key: the loser retries under the winner's key.
        if (!(error instanceof UniqueViolation)) throw error;
        await storeOnce(subjectId, profile);
      }
    },
  };

  async function storeOnce(subjectId: string, profile: ValidatedProfile): Promise<void> {
      const existing = (await repo.findRecords([subjectId])).get(subjectId);
      let dek: Buffer;
      let newKey = null;
      if (existing) {
        dek = await dataKeyOf(existing);
      } else {
        dek = newDataKey();
        const { wrapped, kekId } = await keys.wrap(dek, dekAad(subjectId));
        newKey = { subjectId, wrappedDek: wrapped, kekId, createdAt: now() };
      }
      const updatedAt = now();
      const upserts = [];
      const deletes: string[] = [];
      for (const [field, value] of Object.entries(profile) as [ProfileField, string | null][]) {
        if (value === null) deletes.push(field);
        else upserts.push({ subjectId, field, ciphertext: seal(dek, Buffer.from(value, 'utf8'), fieldAad(subjectId, field)), updatedAt });
      }
      await repo.saveProfile({ newKey, upserts, deletes: { subjectId, fields: deletes } });
      if (newKey) dekCache.set(subjectId, dek);
  }
}
