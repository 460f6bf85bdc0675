import DataLoader from 'dataloader';
import type { Request } from 'express';
import type { TokenVerifier } from '../../../shared/auth/verifier';
import type { ExtendedDirectory } from '../../../shared/directory-client';
import { requestContext, type ServiceContext } from '../../../shared/context';
import type { ConsentRow } from './db/entities';
import type { ConsentService } from './services/consent-service';

export interface ConsentContext extends ServiceContext {
  consents: ConsentService;
  consentsOfUser: DataLoader<string, ConsentRow[]>;
}

export function createContextFactory(deps: { verifier: TokenVerifier; directory: ExtendedDirectory; consents: ConsentService }) {
  return async (req: Request): Promise<ConsentContext> => {
    const base = await requestContext(req, deps.verifier, deps.directory);
    return {
      ...base,
      consents: deps.consents,
      consentsOfUser: new DataLoader((ids) => deps.consents.consentsVisibleTo(base.principal, ids)),
    };
  };
}
