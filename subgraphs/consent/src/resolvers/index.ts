import type { SubjectPrincipal } from '../../../../shared/auth/principal';
import { DateTimeScalar } from '../../../../shared/scalars';
import type { Resolvers } from '../__generated__/resolvers-types';
import type { ConsentContext } from '../context';
import { consentStatus, type GrantConsentInput } from '../services/consent-service';

const subjectOf = (ctx: ConsentContext) => ctx.principal as SubjectPrincipal;

export const resolvers: Resolvers<ConsentContext> = {
  DateTime: DateTimeScalar,
  Mutation: {
    grantConsent: (_, args, ctx) =>
      ctx.consents.grant(subjectOf(ctx).subjectId, args.input as GrantConsentInput, ctx.audit),
    withdrawConsent: (_, args, ctx) =>
      ctx.consents.withdraw(subjectOf(ctx).subjectId, args.id, ctx.audit),
  },
  User: {
    __resolveReference: (reference) => ({ id: reference.id }),
    consents: (user, _, ctx) => ctx.consentsOfUser.load(user.id),
    consentHistory: (user, _, ctx) => ctx.historyOfUser.load(user.id),
  },
  Consent: {
    status: (consent, _, ctx) => consentStatus(consent, ctx.consents.now()),
  },
};
