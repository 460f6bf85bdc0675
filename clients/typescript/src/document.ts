import type { DocumentTypeDecoration } from '@graphql-typed-document-node/core';

/**
 * A document the client can send: a generated `TypedDocumentString` (or any string-like document that
 * carries its result and variables types), or a plain GraphQL string.
 */
export type Document<TResult = unknown, TVariables = Record<string, unknown>> = DocumentTypeDecoration<TResult, TVariables> | string;

export type OperationType = 'query' | 'mutation' | 'subscription';

export interface OperationInfo {
  /** The exact text sent as `query` (and hashed for persisted queries). */
  text: string;
  type: OperationType;
  name: string | undefined;
}

/**
 * The text of a document, as sent and as hashed into the persisted-operation manifest: the document's string
 * with surrounding whitespace removed. A parsed DocumentNode has no text to send and is refused, so the client
 * never needs the `graphql` package.
 */
export function documentText(document: Document<unknown, never> | object): string {
  if (typeof document === 'string') return document.trim();
  if (document instanceof String) return document.toString().trim();
  if (document && typeof document === 'object' && (document as { kind?: unknown }).kind === 'Document') {
    throw new TypeError('Pass a document string (TypedDocumentString), not a parsed DocumentNode');
  }
  throw new TypeError('The document must be a GraphQL document string');
}

/**
 * The kind and name of the document's operation, read from its top-level definitions (strings, block strings
 * and comments skipped). A document with several operations, or one that cannot be read, reports `undefined`:
 * the client then treats it as not idempotent and never retries it.
 */
export function operationOf(text: string): { type: OperationType; name: string | undefined } | undefined {
  const operations: { type: OperationType; name: string | undefined }[] = [];
  const word = /[_A-Za-z][_0-9A-Za-z]*/y;
  let depth = 0;
  // Inside a definition until its top-level selection set closes (names, variables, directives, `on Type`).
  let inDefinition = false;
  for (let i = 0; i < text.length; i += 1) {
    const c = text[i];
    if (c === '#') {
      while (i + 1 < text.length && text[i + 1] !== '\n') i += 1;
    } else if (c === '"') {
      const block = text.startsWith('"""', i);
      const end = block ? text.indexOf('"""', i + 3) : closingQuote(text, i + 1);
      if (end < 0) return undefined;
      i = block ? end + 2 : end;
    } else if (c === '{' || c === '(' || c === '[') {
      if (depth === 0 && c === '{' && !inDefinition) {
        operations.push({ type: 'query', name: undefined });
        inDefinition = true;
      }
      depth += 1;
    } else if (c === '}' || c === ')' || c === ']') {
      depth -= 1;
      if (depth < 0) return undefined;
      if (depth === 0 && c === '}') inDefinition = false;
    } else if (depth === 0 && !inDefinition) {
      word.lastIndex = i;
      const keyword = word.exec(text)?.[0];
      if (!keyword) {
        if (/[\s,\ufeff]/.test(c)) continue;
        return undefined;
      }
      if (keyword === 'query' || keyword === 'mutation' || keyword === 'subscription') {
        const name = /\s*([_A-Za-z][_0-9A-Za-z]*)?/y;
        name.lastIndex = i + keyword.length;
        operations.push({ type: keyword, name: name.exec(text)?.[1] });
      } else if (keyword !== 'fragment') {
        return undefined;
      }
      inDefinition = true;
      i += keyword.length - 1;
    }
  }
  return operations.length === 1 && depth === 0 ? operations[0] : undefined;
}

function closingQuote(text: string, from: number): number {
  for (let i = from; i < text.length; i += 1) {
    if (text[i] === '\\') i += 1;
    else if (text[i] === '"') return i;
    else if (text[i] === '\n') return -1;
  }
  return -1;
}

const hashes = new Map<string, Promise<string>>();

/** SHA-256 of the text, lower-case hex (the APQ `sha256Hash`), with WebCrypto; memoised per text. */
export function sha256Hex(text: string): Promise<string> {
  let hash = hashes.get(text);
  if (!hash) {
    hash = globalThis.crypto.subtle.digest('SHA-256', new TextEncoder().encode(text)).then((digest) =>
      Array.from(new Uint8Array(digest), (byte) => byte.toString(16).padStart(2, '0')).join(''),
    );
    // Documents are few and fixed; the bound only keeps ad-hoc strings from growing the map without limit.
    if (hashes.size >= 500) hashes.clear();
    hashes.set(text, hash);
  }
  return hash;
}
