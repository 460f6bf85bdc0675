import { GraphQLScalarType } from 'graphql';
import { DateTimeISOResolver, SafeIntResolver } from 'graphql-scalars';

/** graphql-scalars' strict ISO-8601 date-time, under the name the graph uses. */
export const DateTimeScalar = new GraphQLScalarType({ ...DateTimeISOResolver.toConfig(), name: 'DateTime' });
export const SafeIntScalar = new GraphQLScalarType({ ...SafeIntResolver.toConfig(), name: 'SafeInt' });
