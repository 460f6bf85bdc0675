import { PassportError, verifyPassport } from '@privgraph/client';

// The passport your storefront received from the signed-in customer's browser (issuePassport), checked offline.
try {
  const passport = await verifyPassport(process.env.PASSPORT!, {
    jwksUrl: 'http://localhost:4000/.well-known/jwks.json',
    audience: process.env.TENANT_ID!, // your tenant id: a passport issued to another shop is refused
  });
  console.log(`signed in: ${passport.ref}, email verified: ${passport.emailVerified}, consents: ${passport.purposes.join(' ')}`);
} catch (error) {
  if (error instanceof PassportError) console.error(`not signed in: ${error.code}`); // PASSPORT_EXPIRED, PASSPORT_INVALID, …
  process.exitCode = 1;
}
