import { QueryFailedError } from 'typeorm';

/** A unique constraint refused the write (SQLSTATE 23505). Repositories raise it so services stay free of driver details. */
export class UniqueViolation extends Error {
  constructor(readonly constraint: string | undefined) {
    super('unique constraint violated');
    this.name = 'UniqueViolation';
  }
}

export function rethrowUniqueViolation(error: unknown): never {
  if (error instanceof QueryFailedError && (error.driverError as { code?: string }).code === '23505') {
    throw new UniqueViolation((error.driverError as { constraint?: string }).constraint);
  }
  throw error;
}
