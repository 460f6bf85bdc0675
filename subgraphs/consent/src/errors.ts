import { notFound } from '../../../shared/errors';

/** A consent that is not the caller's is reported exactly like one that does not exist. */
export const consentNotFound = () => notFound('Consent');
