import { GraphQLScalarType } from 'graphql';
import { DateTimeISOResolver, SafeIntResolver } from 'graphql-scalars';

/** graphql-scalars' strict ISO-8601 date-time, under the name the graph uses. */
export const DateTimeScalar = new GraphQLScalarType({ ...DateTimeISOResolver.toConfig(), name: 'DateTime' });
export const SafeIntScalar = new GraphQLScalarType({ ...SafeIntResolver.toConfig(), name: 'SafeInt' });

const CALENDAR_DATE = /^(\d{4})-(\d{2})-(\d{2})$/;

function parseCalendarDate(value: unknown): string {
  if (typeof value !== 'string') throw new TypeError('Date must be a string YYYY-MM-DD');
  const match = CALENDAR_DATE.exec(value);
  const date = match ? new Date(Date.UTC(Number(match[1]), Number(match[2]) - 1, Number(match[3]))) : null;
  if (!date || date.toISOString().slice(0, 10) !== value) throw new TypeError('Date must be a real calendar date YYYY-MM-DD');
  return value;
}

/** A calendar date without time zone, kept as its `YYYY-MM-DD` string (birth dates must not shift by a zone). */
export const CalendarDateScalar = new GraphQLScalarType({
  name: 'Date',
  description: 'A calendar date, YYYY-MM-DD.',
  serialize: parseCalendarDate,
  parseValue: parseCalendarDate,
  parseLiteral(ast) {
    if (ast.kind !== 'StringValue') throw new TypeError('Date must be a string YYYY-MM-DD');
    return parseCalendarDate(ast.value);
  },
});
