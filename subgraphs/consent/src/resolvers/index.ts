import type { SubjectPrincipal, TenantPrincipal } from '../../../../shared/auth/principal';
import { DateTimeScalar } from '../../../../shared/scalars';
import type { Resolvers } from '../__generated__/resolvers-types';
import type { ConsentContext } from '../context';
import { consentStatus, type GrantConsentInput } from '../services/consent-service';
import type { PublishPolicyInput } from '../services/policy-service';
import { processingRecordsResolvers } from './processing-records';

const subjectOf = (ctx: ConsentContext) => ctx.principal as SubjectPrincipal;
const tenantOf = (ctx: ConsentContext) => ctx.principal as TenantPrincipal;

export const resolvers: Resolvers<ConsentContext> = {
  DateTime: DateTimeScalar,
  Query: {
    tenantPolicy: (_, args, ctx) => ctx.policies.currentFor(args.tenantId),
    policyVersions: (_, __, ctx) => ctx.policies.list(tenantOf(ctx).tenantId),
    consentReceipt: (_, args, ctx) => ctx.consents.receiptVisibleTo(ctx.principal, args.id),
    ...processingRecordsResolvers.Query,
  },
  Mutation: {
    publishPolicyVersion: (_, args, ctx) => ctx.policies.publish(tenantOf(ctx).tenantId, args.input as PublishPolicyInput, ctx.audit),
    grantConsent: (_, args, ctx) =>
      ctx.consents.grant(subjectOf(ctx).subjectId, args.input as GrantConsentInput, ctx.audit, ctx.deadline),
    withdrawConsent: (_, args, ctx) =>
      ctx.consents.withdraw(subjectOf(ctx).subjectId, args.id, ctx.audit, ctx.deadline),
  },
  User: {
    __resolveReference: (reference) => ({ id: reference.id }),
    consents: (user, _, ctx) => ctx.consentsOfUser.load(user.id),
    consentHistory: (user, _, ctx) => ctx.historyOfUser.load(user.id),
  },
  Consent: {
    status: (consent, _, ctx) => consentStatus(consent, ctx.consents.now()),
    receipts: (consent, _, ctx) => ctx.receiptsOfConsent.load(consent.id),
  },
};
