import type { SubjectPrincipal } from '../../../../shared/auth/principal';
import { CalendarDateScalar, DateTimeScalar } from '../../../../shared/scalars';
import type { Resolvers } from '../__generated__/resolvers-types';
import type { PiiContext } from '../context';
import { mapErrors } from '../errors';
import { openBreakGlass } from '../services/break-glass';
import { etaSeconds } from '../services/key-rotation';
import { applyMask } from '../services/masking';
import { PROFILE_FIELDS, type ProfileField, type ProfileValues } from '../services/profile-input';
import { updateOwnProfile } from '../services/profile-service';

/** Runs only after the field's rule has allowed and audited the read (permissions.ts). */
const readField = (field: ProfileField) => (user: { id: string }, _: unknown, ctx: PiiContext) =>
  mapErrors(async () => {
    const value = ctx.vault.decrypt(await ctx.records.load(user.id), field);
    ctx.deadline.check(); // no value leaves after the deadline (docs/security.md#deadlines)
    const mask = ctx.guard.maskOf(user.id, field);
    return value !== null && mask ? applyMask(mask, value) : value;
  });

const admin = (ctx: PiiContext) => ({ principal: ctx.principal, guard: ctx.guard });
const regionView = <R extends { keyProvider: 'local' | 'vault' }>(region: R) => ({ ...region, keyProvider: region.keyProvider === 'vault' ? ('VAULT' as const) : ('LOCAL' as const) });

export const resolvers: Resolvers<PiiContext> = {
  Date: CalendarDateScalar,
  DateTime: DateTimeScalar,
  Query: {
    piiRegions: (_, __, ctx) => mapErrors(async () => (await ctx.vault.regionKeys()).map(regionView)),
    keyRotation: (_, args, ctx) => mapErrors(async () => (await ctx.rotation.find(args.id)) ?? null),
    keyRotations: (_, args, ctx) => mapErrors(() => ctx.rotation.list(args.region ?? null, Math.min(Math.max(args.first ?? 20, 1), 100))),
    subjectsByEmail: (_, args, ctx) => mapErrors(() => ctx.admin.findByContact(admin(ctx), 'email', args.email, args.reason)),
    subjectsByPhone: (_, args, ctx) => mapErrors(() => ctx.admin.findByContact(admin(ctx), 'phone', args.phone, args.reason)),
    breakGlassUser: (_, args, ctx) => mapErrors(() => openBreakGlass(ctx, args)),
  },
  Mutation: {
    updateMyProfile: (_, args, ctx) =>
      mapErrors(() => updateOwnProfile(ctx, (ctx.principal as SubjectPrincipal).subjectId, args.input as ProfileValues & { region?: string | null })),
    rotateRegionKey: (_, args, ctx) => mapErrors(() => ctx.admin.rotateKey(admin(ctx), args.region, args.reason)),
    retireKeyVersions: (_, args, ctx) =>
      mapErrors(async () => {
        const region = await ctx.admin.retireKeyVersions(admin(ctx), args.region, args.minDecryptionVersion, args.reason);
        return regionView(region as NonNullable<typeof region>);
      }),
    rekeySubject: (_, args, ctx) => mapErrors(() => ctx.admin.rekey(admin(ctx), args.subjectId, args.reason)),
    shredSubject: (_, args, ctx) => mapErrors(() => ctx.admin.shred(admin(ctx), args.subjectId, args.reason)),
    moveSubjectRegion: (_, args, ctx) => mapErrors(() => ctx.admin.move(admin(ctx), args.subjectId, args.region, args.reason)),
  },
  KeyRotation: {
    etaSeconds: (job) => etaSeconds(job),
  },
  User: {
    __resolveReference: (reference) => ({ id: reference.id }),
    region: (user, _, ctx) => ctx.regions.load(user.id),
    ...Object.fromEntries(PROFILE_FIELDS.map((field) => [field, readField(field)])),
  },
};
