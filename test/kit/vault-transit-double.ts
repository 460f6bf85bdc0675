import { createCipheriv, createDecipheriv, createHmac, randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * An in-process HTTP double of HashiCorp Vault's Transit secrets engine, following its documented API
 * (developer.hashicorp.com/vault/api-docs/secret/transit): `keys` (create, read, rotate, config with
 * `min_decryption_version`), `encrypt`, `decrypt`, `rewrap` (single and `batch_input`) and `hmac`;
 * ciphertexts `vault:v<N>:<base64(nonce ‖ ciphertext ‖ tag)>` under real AES-256-GCM; errors as
 * `{"errors": [...]}` with Vault's status codes (403 permission denied, 503 sealed, 400 too old).
 * Faults can be switched on: sealed, unreachable (connections dropped), malformed answers.
 * With VAULT_ADDR/VAULT_TOKEN set, the vault tests run against a real Vault instead (README).
 */
export interface VaultTransitDouble {
  address: string;
  token: string;
  mount: string;
  /** Requests served, by operation (e.g. `decrypt`), for round-trip assertions. */
  calls: Map<string, number>;
  setFault(fault: 'sealed' | 'unreachable' | 'malformed' | null): void;
  stop(): Promise<void>;
}

interface TransitKey {
  versions: Map<number, Buffer>;
  hmacKeys: Map<number, Buffer>;
  latest: number;
  minDecryptionVersion: number;
  createdAt: Map<number, number>;
}

const TOO_OLD = 'ciphertext or signature version is disallowed by policy (too old)';

export async function startVaultTransitDouble(options: { token?: string; mount?: string } = {}): Promise<VaultTransitDouble> {
  const token = options.token ?? `hvs.${randomBytes(18).toString('base64url')}`;
  const mount = options.mount ?? 'transit';
  const keys = new Map<string, TransitKey>();
  const calls = new Map<string, number>();
  let fault: 'sealed' | 'unreachable' | 'malformed' | null = null;

  const createKey = (): TransitKey => ({
    versions: new Map([[1, randomBytes(32)]]),
    hmacKeys: new Map([[1, randomBytes(32)]]),
    latest: 1,
    minDecryptionVersion: 1,
    createdAt: new Map([[1, Math.floor(Date.now() / 1000)]]),
  });
  const info = (name: string, key: TransitKey) => ({
    name,
    type: 'aes256-gcm96',
    latest_version: key.latest,
    min_decryption_version: key.minDecryptionVersion,
    min_encryption_version: 0,
    deletion_allowed: false,
    derived: false,
    exportable: false,
    supports_encryption: true,
    supports_decryption: true,
    keys: Object.fromEntries(key.createdAt),
  });

  const encrypt = (key: TransitKey, plaintextB64: string) => {
    const version = key.latest;
    const nonce = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', key.versions.get(version) as Buffer, nonce);
    const body = Buffer.concat([cipher.update(Buffer.from(plaintextB64, 'base64')), cipher.final(), cipher.getAuthTag()]);
    return { ciphertext: `vault:v${version}:${Buffer.concat([nonce, body]).toString('base64')}`, key_version: version };
  };
  const decrypt = (key: TransitKey, ciphertext: unknown): { plaintext: string } | { error: string } => {
    const match = typeof ciphertext === 'string' ? /^vault:v(\d+):(.+)$/.exec(ciphertext) : null;
    if (!match) return { error: 'invalid ciphertext: no prefix' };
    const version = Number(match[1]);
    if (version < key.minDecryptionVersion) return { error: TOO_OLD };
    const material = key.versions.get(version);
    if (!material) return { error: 'invalid key version' };
    const raw = Buffer.from(match[2], 'base64');
    if (raw.length < 28) return { error: 'invalid ciphertext: too short' };
    try {
      const decipher = createDecipheriv('aes-256-gcm', material, raw.subarray(0, 12));
      decipher.setAuthTag(raw.subarray(raw.length - 16));
      const plain = Buffer.concat([decipher.update(raw.subarray(12, raw.length - 16)), decipher.final()]);
      return { plaintext: plain.toString('base64') };
    } catch {
      return { error: 'cipher: message authentication failed' };
    }
  };

  type Body = Record<string, any>;
  /** Runs one item or a batch; a batch with failed items answers 400 with per-item results, like Vault. */
  const perItem = (body: Body, run: (item: Body) => Record<string, unknown>) => {
    if (Array.isArray(body.batch_input)) {
      const results = body.batch_input.map((item: Body) => run(item));
      return { status: results.some((r: Record<string, unknown>) => 'error' in r) ? 400 : 200, json: { data: { batch_results: results } } };
    }
    const result = run(body);
    return 'error' in result ? { status: 400, json: { errors: [result.error] } } : { status: 200, json: { data: result } };
  };

  const route = (method: string, path: string, body: Body): { status: number; json?: unknown } => {
    const prefix = `/v1/${mount}/`;
    if (!path.startsWith(prefix)) return { status: 404, json: { errors: ['no handler for route'] } };
    const parts = path.slice(prefix.length).split('/');
    const [operation, name, extra] = parts;
    calls.set(operation, (calls.get(operation) ?? 0) + 1);
    const key = keys.get(name);
    switch (operation) {
      case 'keys': {
        if (method === 'GET' && !extra) return key ? { status: 200, json: { data: info(name, key) } } : { status: 404, json: { errors: [] } };
        if (method === 'POST' && !extra) {
          if (!key) keys.set(name, createKey());
          return { status: 204 };
        }
        if (!key) return { status: 400, json: { errors: ['key not found'] } };
        if (method === 'POST' && extra === 'rotate') {
          key.latest += 1;
          key.versions.set(key.latest, randomBytes(32));
          key.hmacKeys.set(key.latest, randomBytes(32));
          key.createdAt.set(key.latest, Math.floor(Date.now() / 1000));
          return { status: 200, json: { data: info(name, key) } };
        }
        if (method === 'POST' && extra === 'config') {
          const min = Number(body.min_decryption_version);
          if (!Number.isInteger(min) || min < 0) return { status: 400, json: { errors: ['invalid min_decryption_version'] } };
          if (min > key.latest) return { status: 400, json: { errors: ['cannot set min decryption version to a value greater than the latest version'] } };
          key.minDecryptionVersion = Math.max(1, min);
          return { status: 200, json: { data: info(name, key) } };
        }
        return { status: 405, json: { errors: ['unsupported operation'] } };
      }
      case 'encrypt': {
        let target = key;
        if (!target) keys.set(name, (target = createKey()));
        const k = target;
        return perItem(body, (item) => (typeof item.plaintext === 'string' ? encrypt(k, item.plaintext) : { error: 'missing plaintext to encrypt' }));
      }
      case 'decrypt':
        if (!key) return { status: 400, json: { errors: ['encryption key not found'] } };
        return perItem(body, (item) => decrypt(key, item.ciphertext));
      case 'rewrap':
        if (!key) return { status: 400, json: { errors: ['encryption key not found'] } };
        return perItem(body, (item) => {
          const opened = decrypt(key, item.ciphertext);
          return 'error' in opened ? opened : encrypt(key, opened.plaintext);
        });
      case 'hmac': {
        if (!key) return { status: 400, json: { errors: ['HMAC key not found'] } };
        const version = Number(body.key_version ?? key.latest);
        const material = key.hmacKeys.get(version);
        if (!material || typeof body.input !== 'string') return { status: 400, json: { errors: ['invalid request'] } };
        const digest = createHmac(extra === 'sha2-512' ? 'sha512' : 'sha256', material).update(Buffer.from(body.input, 'base64')).digest('base64');
        return { status: 200, json: { data: { hmac: `vault:v${version}:${digest}` } } };
      }
      default:
        return { status: 404, json: { errors: ['no handler for route'] } };
    }
  };

  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    if (fault === 'unreachable') {
      req.socket.destroy();
      return;
    }
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const send = (status: number, json?: unknown) => {
        res.writeHead(status, { 'content-type': 'application/json' });
        res.end(json === undefined ? '' : JSON.stringify(json));
      };
      if (fault === 'sealed') return send(503, { errors: ['Vault is sealed'] });
      if (req.headers['x-vault-token'] !== token) return send(403, { errors: ['permission denied'] });
      if (fault === 'malformed') return send(200, { data: { unexpected: true } });
      let body: Body = {};
      try {
        body = chunks.length ? JSON.parse(Buffer.concat(chunks).toString('utf8')) : {};
      } catch {
        return send(400, { errors: ['failed to parse JSON input'] });
      }
      const { status, json } = route(req.method ?? 'GET', new URL(req.url ?? '/', 'http://vault').pathname, body);
      send(status, json);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    address: `http://127.0.0.1:${port}`,
    token,
    mount,
    calls,
    setFault: (next) => {
      fault = next;
    },
    stop: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
