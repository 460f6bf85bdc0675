import { notFound } from '../../../shared/errors';

/** Unknown and foreign refs give the same error, so a tenant cannot probe another tenant's refs. */
export const userNotFound = () => notFound('User');
