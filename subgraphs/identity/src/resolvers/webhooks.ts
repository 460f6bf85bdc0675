import type { TenantPrincipal } from '../../../../shared/auth/principal';
import type {
  Resolvers,
  WebhookDelivery,
  WebhookDeliveryError,
  WebhookEndpoint,
  WebhookEventType as WebhookEventTypeEnum,
} from '../__generated__/resolvers-types';
import type { IdentityContext } from '../context';
import type { DeliveryView, EndpointView, WebhookEventType } from '../services/webhook-service';

/* GraphQL enum values ↔ the dotted names on the wire (SUBJECT_ERASED ↔ subject.erased). */
const toWire = (value: WebhookEventTypeEnum) => value.toLowerCase().replace(/^(subject|consent)_/, '$1.') as WebhookEventType;
const toEnum = (type: WebhookEventType) => type.replace('.', '_').toUpperCase() as WebhookEventTypeEnum;

const endpointOut = (view: EndpointView): WebhookEndpoint => ({ ...view, events: view.events.map(toEnum) });
const deliveryOut = (view: DeliveryView): WebhookDelivery => ({
  ...view,
  eventType: toEnum(view.eventType),
  lastError: view.lastError as WebhookDeliveryError | null,
});

/* Rules have already required a tenant admin (permissions.ts); every call is scoped to the caller's tenant. */
const tenantOf = (ctx: IdentityContext) => (ctx.principal as TenantPrincipal).tenantId;

export const webhookResolvers: Resolvers<IdentityContext> = {
  Query: {
    webhookEndpoints: async (_, __, ctx) => (await ctx.webhooks.listEndpoints(tenantOf(ctx))).map(endpointOut),
    webhookDeliveries: async (_, args, ctx) => {
      const page = await ctx.webhooks.pageDeliveries(tenantOf(ctx), args);
      return { ...page, edges: page.edges.map((edge) => ({ ...edge, node: deliveryOut(edge.node) })) };
    },
  },
  Mutation: {
    createWebhookEndpoint: async (_, { input }, ctx) => {
      const created = await ctx.webhooks.createEndpoint(tenantOf(ctx), { ...input, events: input.events.map(toWire) }, ctx.audit);
      return { endpoint: endpointOut(created.endpoint), secret: created.secret };
    },
    disableWebhookEndpoint: async (_, args, ctx) => endpointOut(await ctx.webhooks.setEndpointEnabled(tenantOf(ctx), args.id, false, ctx.audit)),
    enableWebhookEndpoint: async (_, args, ctx) => endpointOut(await ctx.webhooks.setEndpointEnabled(tenantOf(ctx), args.id, true, ctx.audit)),
    rotateWebhookSecret: async (_, args, ctx) => {
      const rotated = await ctx.webhooks.rotateSecret(tenantOf(ctx), args.id, ctx.audit);
      return { endpoint: endpointOut(rotated.endpoint), secret: rotated.secret };
    },
    deleteWebhookEndpoint: (_, args, ctx) => ctx.webhooks.deleteEndpoint(tenantOf(ctx), args.id, ctx.audit),
    redeliverWebhook: async (_, args, ctx) => deliveryOut(await ctx.webhooks.redeliver(tenantOf(ctx), args.deliveryId, ctx.audit)),
  },
};
