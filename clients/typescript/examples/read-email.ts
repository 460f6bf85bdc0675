import { createPrivgraphClient, PrivgraphError, UserEmailDocument } from '@privgraph/client';

// Your shop's backend token (scope pii:contact:read) and the customer's ref: the only thing your shop stores.
const client = createPrivgraphClient({ url: 'http://localhost:4000/graphql', token: process.env.SHOP_TOKEN! });
const ref = process.env.CUSTOMER_REF!;

try {
  // Typed from the document: data.user?.email is string | null | undefined, variables must be { ref: string }.
  const { data, errors } = await client.request(UserEmailDocument, { ref }, { purpose: 'order_fulfillment' });
  // A refused field is null and listed with its code (CONSENT_REQUIRED, SCOPE_REQUIRED, NOT_FOUND, …).
  for (const error of errors) console.error(`${error.path?.join('.')} refused: ${error.code}`);
  if (data.user?.email) console.log(`order confirmation goes to ${data.user.email}`);
} catch (error) {
  // Nothing was released: a bad token, an invalid document, privgraph unreachable after retries.
  if (error instanceof PrivgraphError) console.error(`request refused: ${error.code}`);
  process.exitCode = 1;
}
