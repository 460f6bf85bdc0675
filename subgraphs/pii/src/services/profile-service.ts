import type { Deadline } from '../../../../shared/deadline';
import type { ProfileValues } from './profile-input';
import { validateProfile } from './profile-input';
import type { PrivacyGuard } from './privacy-guard';
import type { VaultService } from './vault-service';

/** How a user reaches the pii subgraph: by internal id only. */
export interface UserKey {
  id: string;
}

/** A subject updates their own profile: validate everything, audit, then write (nothing is half-written; a failed write's audit says so). */
export async function updateOwnProfile(
  deps: { vault: VaultService; guard: PrivacyGuard; now: () => Date; deadline?: Deadline },
  subjectId: string,
  input: ProfileValues & { region?: string | null },
): Promise<UserKey> {
  const { region, ...fields } = input;
  const profile = validateProfile(fields, deps.now());
  // Region problems are found before anything is audited or written.
  const plan = await deps.vault.planPlacement(subjectId, profile, { region });
  await deps.guard.auditedOwnWrites(subjectId, Object.keys(profile), () => deps.vault.store(subjectId, profile, plan, deps.deadline));
  return { id: subjectId };
}
