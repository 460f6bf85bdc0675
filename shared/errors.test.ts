import { GraphQLError } from 'graphql';
import pino from 'pino';
import { createErrorFormatter } from './errors';

/** A PostgreSQL error as pg raises it: the message quotes the value, the SQLSTATE says whose fault it is. */
function pgError(code: string, message: string) {
  return Object.assign(new Error(message), { name: 'error', code, severity: 'ERROR' });
}

describe('createErrorFormatter', () => {
  const format = createErrorFormatter(pino({ level: 'silent' }));
  const asFormatted = (error: Error) => {
    const wrapped = new GraphQLError(error.message, { originalError: error, path: ['q'] });
    return format(wrapped.toJSON(), wrapped);
  };

  it.each([
    ['22P02', 'invalid input syntax for type uuid: "zzz"'],
    ['22003', 'value "99999999999999999999" is out of range for type bigint'],
    ['22021', 'invalid byte sequence for encoding "UTF8": 0x00'],
  ])('a data exception (%s) is the caller’s bad input, without the driver’s message', (code, message) => {
    const formatted = asFormatted(pgError(code, message));
    expect(formatted.extensions).toEqual({ code: 'BAD_USER_INPUT' });
    expect(formatted.message).not.toContain('"');
    expect(JSON.stringify(formatted)).not.toMatch(/uuid|bigint|UTF8|zzz/);
  });

  it('a data exception wrapped by TypeORM (driverError) is recognised too', () => {
    const wrapped = Object.assign(new Error('SELECT * FROM t WHERE id = $1'), { name: 'QueryFailedError', driverError: pgError('22P02', 'invalid input') });
    expect(asFormatted(wrapped).extensions).toEqual({ code: 'BAD_USER_INPUT' });
  });

  it('any other database error stays masked as an internal error', () => {
    for (const error of [pgError('42P01', 'relation "x" does not exist'), pgError('23503', 'violates foreign key'), new Error('boom')]) {
      const formatted = asFormatted(error);
      expect(formatted).toMatchObject({ message: 'Internal server error', extensions: { code: 'INTERNAL_SERVER_ERROR' } });
    }
  });
});
