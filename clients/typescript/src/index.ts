export { createPrivgraphClient, errorAt, PURPOSE_HEADER, REQUEST_ID_HEADER } from './client.js';
export type { PrivgraphClient, PrivgraphClientOptions, PrivgraphResult, RequestOptions } from './client.js';
export type { RetryOptions } from './retry.js';
export { documentText, type Document } from './document.js';
export { ERROR_CODES, isErrorCode, PrivgraphError } from './errors.js';
export type { ErrorCode, PrivgraphErrorCode, PrivgraphFieldError, TransportErrorCode } from './errors.js';
export { PASSPORT_ALGORITHM, PASSPORT_TYPE, PassportError, verifyPassport } from './passport.js';
export type { Passport, PassportErrorCode, PassportUserStatus, VerifyPassportOptions } from './passport.js';
export * from './__generated__/operations.js';
