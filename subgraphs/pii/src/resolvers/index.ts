import type { SubjectPrincipal } from '../../../../shared/auth/principal';
import { CalendarDateScalar } from '../../../../shared/scalars';
import type { Resolvers } from '../__generated__/resolvers-types';
import type { PiiContext } from '../context';
import { toGraphqlError } from '../errors';
import { PROFILE_FIELDS, type ProfileField, type ProfileValues } from '../services/profile-input';
import { updateOwnProfile } from '../services/profile-service';

/** Runs only after the field's rule has allowed and audited the read (permissions.ts). */
const readField = (field: ProfileField) => async (user: { id: string }, _: unknown, ctx: PiiContext) => {
  try {
    return await ctx.vault.decrypt(await ctx.records.load(user.id), field);
  } catch (error) {
    throw toGraphqlError(error);
  }
};

export const resolvers: Resolvers<PiiContext> = {
  Date: CalendarDateScalar,
  Mutation: {
    updateMyProfile: async (_, args, ctx) => {
      try {
        return await updateOwnProfile(ctx, (ctx.principal as SubjectPrincipal).subjectId, args.input as ProfileValues);
      } catch (error) {
        throw toGraphqlError(error);
      }
    },
  },
  User: {
    __resolveReference: (reference) => ({ id: reference.id }),
    ...Object.fromEntries(PROFILE_FIELDS.map((field) => [field, readField(field)])),
  },
};
