/*
 * Prints a development access token on stdout (and nothing else), for use in curl or the sandbox (docs/sandbox.md):
 *   npm run token -- admin
 *   npm run token -- subject alice
 *   npm run token -- tenant <tenantId> --scopes "pii:contact:read"
 *   npm run token -- member <tenantId> <user> pii:contact:read     (a staff user acting for the shop)
 * Options: --ttl <seconds> (default 3600); for a subject --email-verified true|false and --phone-number-verified true|false
 * (the OIDC claims a passport's verification flags come from) and --client-id <id> (the app signed in to, default
 * privgraph-dev-app; a passport is issued only for a shop that registered it with setStorefrontClients). Refused in production and when an external issuer is configured.
 */
import { devTokens, loadOrCreateDevIssuerKey } from '../shared/auth/dev-issuer';

const USAGE = `usage:
  npm run token -- admin
  npm run token -- subject <name>
  npm run token -- tenant <tenantId> [--scopes "pii:contact:read pii:identity:read"]
  npm run token -- member <tenantId> <user> [scopes...]
options: --ttl <seconds>  (default 3600)
         --email-verified true|false, --phone-number-verified true|false  (subject only)
         --client-id <id>  (subject only: the app signed in to; default privgraph-dev-app)`;

function fail(message: string): never {
  process.stderr.write(`${message}\n`);
  process.exit(2);
}

function option(args: string[], name: string): string | undefined {
  const index = args.indexOf(name);
  if (index === -1) return undefined;
  const value = args[index + 1];
  if (value === undefined || value.startsWith('--')) fail(`${name} needs a value\n${USAGE}`);
  args.splice(index, 2);
  return value;
}

async function main() {
  if (process.env.NODE_ENV === 'production') fail('The development token issuer is disabled when NODE_ENV=production.');
  if (process.env.AUTH_ISSUER || process.env.LOGTO_ENDPOINT) {
    fail('An external issuer is configured (AUTH_ISSUER/LOGTO_ENDPOINT): get tokens from it, not from the development issuer.');
  }
  const args = process.argv.slice(2);
  const scopes = option(args, '--scopes');
  const ttlText = option(args, '--ttl');
  const ttl = ttlText === undefined ? undefined : Number(ttlText);
  const flag = (name: string): boolean | undefined => {
    const value = option(args, name);
    if (value !== undefined && value !== 'true' && value !== 'false') fail(`${name} must be true or false`);
    return value === undefined ? undefined : value === 'true';
  };
  const verified = { email: flag('--email-verified'), phoneNumber: flag('--phone-number-verified') };
  const clientId = option(args, '--client-id');
  if (clientId !== undefined && !/^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$/.test(clientId)) fail('--client-id must be 1-128 letters, digits, . _ : -');
  if (ttl !== undefined && (!Number.isInteger(ttl) || ttl < 1 || ttl > 86_400)) fail('--ttl must be 1-86400 seconds');
  const [kind, arg, ...rest] = args;
  if (clientId !== undefined && kind !== 'subject') fail(`--client-id is for a subject token\n${USAGE}`);
  if (kind !== 'member' && rest.length > 0) fail(`unexpected arguments: ${rest.join(' ')}\n${USAGE}`);
  const key = await loadOrCreateDevIssuerKey(process.env.PRIVGRAPH_DATA_DIR ?? '.data');
  let token: string;
  switch (kind) {
    case 'admin':
      if (arg !== undefined) fail(USAGE);
      token = await devTokens.admin(key, ttl);
      break;
    case 'subject':
      if (!arg || !/^[A-Za-z0-9._@-]{1,128}$/.test(arg)) fail(`subject needs a name (letters, digits, . _ @ -)\n${USAGE}`);
      token = await devTokens.subject(key, arg, ttl, { ...verified, clientId });
      break;
    case 'tenant':
      if (!arg) fail(`tenant needs the tenant id (from createTenant)\n${USAGE}`);
      token = await devTokens.tenant(key, arg, (scopes ?? '').split(/[\s,]+/).filter(Boolean), ttl);
      break;
    case 'member': {
      const [user, ...memberScopes] = rest;
      if (!arg) fail(`member needs the tenant id (from createTenant)\n${USAGE}`);
      if (!user || !/^[A-Za-z0-9._@-]{1,128}$/.test(user)) fail(`member needs the staff user's name (letters, digits, . _ @ -)\n${USAGE}`);
      const all = [...memberScopes, ...(scopes ?? '').split(/[\s,]+/)].flatMap((s) => s.split(/[\s,]+/)).filter(Boolean);
      token = await devTokens.member(key, arg, user, all, ttl);
      break;
    }
    default:
      fail(USAGE);
  }
  process.stdout.write(`${token}\n`);
}

void main();
