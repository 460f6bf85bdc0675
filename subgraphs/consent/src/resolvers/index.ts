import type { SubjectPrincipal } from '../../../../shared/auth/principal';
import { DateTimeScalar } from '../../../../shared/scalars';
import type { ConsentContext } from '../context';
import type { ConsentRow } from '../db/entities';
import { consentStatus, type GrantConsentInput } from '../services/consent-service';

const subjectOf = (ctx: ConsentContext) => ctx.principal as SubjectPrincipal;

export const resolvers = {
  DateTime: DateTimeScalar,
  Mutation: {
    grantConsent: (_: unknown, args: { input: GrantConsentInput }, ctx: ConsentContext) =>
      ctx.consents.grant(subjectOf(ctx).subjectId, args.input),
    withdrawConsent: (_: unknown, args: { id: string }, ctx: ConsentContext) =>
      ctx.consents.withdraw(subjectOf(ctx).subjectId, args.id),
  },
  User: {
    __resolveReference: (reference: { id: string }) => ({ id: reference.id }),
    consents: (user: { id: string }, _: unknown, ctx: ConsentContext) => ctx.consentsOfUser.load(user.id),
  },
  Consent: {
    status: (consent: ConsentRow, _: unknown, ctx: ConsentContext) => consentStatus(consent, ctx.consents.now()),
  },
};
