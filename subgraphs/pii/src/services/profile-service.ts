import type { ProfileValues } from './profile-input';
import { validateProfile } from './profile-input';
import type { PrivacyGuard } from './privacy-guard';
import type { VaultService } from './vault-service';

/** A subject updates their own profile: validate everything, audit, then write in one transaction. */
/** How a user reaches the pii subgraph: by internal id only. */
export interface UserKey {
  id: string;
}

export async function updateOwnProfile(
  deps: { vault: VaultService; guard: PrivacyGuard; now: () => Date },
  subjectId: string,
  input: ProfileValues,
): Promise<UserKey> {
  const profile = validateProfile(input, deps.now());
  await deps.guard.recordOwnWrites(subjectId, Object.keys(profile));
  await deps.vault.store(subjectId, profile);
  return { id: subjectId };
}
