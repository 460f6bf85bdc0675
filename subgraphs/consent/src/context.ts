import DataLoader from 'dataloader';
import type { Request } from 'express';
import { resolvePrincipal } from '../../../shared/auth/principal';
import type { TokenVerifier } from '../../../shared/auth/verifier';
import type { ExtendedDirectory } from '../../../shared/directory-client';
import type { ServiceContext } from '../../../shared/permissions';
import { purposeFrom, requestIdFrom } from '../../../shared/request';
import type { ConsentRow } from './db/entities';
import type { ConsentService } from './services/consent-service';

export interface ConsentContext extends ServiceContext {
  consents: ConsentService;
  consentsOfUser: DataLoader<string, ConsentRow[]>;
}

export function createContextFactory(deps: { verifier: TokenVerifier; directory: ExtendedDirectory; consents: ConsentService }) {
  return async (req: Request): Promise<ConsentContext> => {
    const principal = await resolvePrincipal(req.header('authorization'), deps.verifier, deps.directory);
    const { purpose, malformed } = purposeFrom(req);
    return {
      principal,
      requestId: requestIdFrom(req),
      purpose,
      purposeMalformed: malformed,
      consents: deps.consents,
      consentsOfUser: new DataLoader((ids) => deps.consents.consentsVisibleTo(principal, ids)),
    };
  };
}
