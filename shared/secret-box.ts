import { createCipheriv, createDecipheriv, hkdfSync, randomBytes } from 'node:crypto';

/**
 * Secrets privgraph must be able to use again (webhook signing secrets), sealed at rest with
 * AES-256-GCM under a key from the environment, bound by AAD to the row they belong to — so a copy
 * of the database alone (a dump, a backup) cannot be used to forge what they sign.
 */
export interface SecretBox {
  seal(secret: string, boundTo: string): string;
  /** Throws when the sealed value was changed, moved to another row or sealed under another key. */
  open(sealed: string, boundTo: string): string;
}

const VERSION = 'sb1';

export function createSecretBox(keyMaterial: string, purpose: string): SecretBox {
  const key = Buffer.from(hkdfSync('sha256', Buffer.from(keyMaterial, 'utf8'), Buffer.alloc(0), `privgraph ${purpose}`, 32));
  return {
    seal(secret, boundTo) {
      const iv = randomBytes(12);
      const cipher = createCipheriv('aes-256-gcm', key, iv, { authTagLength: 16 });
      cipher.setAAD(Buffer.from(boundTo, 'utf8'));
      const ciphertext = Buffer.concat([cipher.update(secret, 'utf8'), cipher.final()]);
      return `${VERSION}:${Buffer.concat([iv, cipher.getAuthTag(), ciphertext]).toString('base64url')}`;
    },
    open(sealed, boundTo) {
      const [version, body] = sealed.split(':');
      if (version !== VERSION || !body) throw new Error('not a sealed secret');
      const raw = Buffer.from(body, 'base64url');
      if (raw.length < 28) throw new Error('not a sealed secret');
      const decipher = createDecipheriv('aes-256-gcm', key, raw.subarray(0, 12), { authTagLength: 16 });
      decipher.setAAD(Buffer.from(boundTo, 'utf8'));
      decipher.setAuthTag(raw.subarray(12, 28));
      return Buffer.concat([decipher.update(raw.subarray(28)), decipher.final()]).toString('utf8');
    },
  };
}
