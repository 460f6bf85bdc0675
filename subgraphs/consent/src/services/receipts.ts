import { signDocument, type SigningKey } from '../../../../shared/signing-key';
import type { ConsentReceiptKind, ConsentRow, PolicyVersionRow } from '../db/entities';

/** JWS `typ` of a consent receipt, so it cannot be confused with an audit checkpoint or an access token. */
export const RECEIPT_TYPE = 'privgraph-consent-receipt+jws';
/** Kantara Initiative Consent Receipt Specification v1.1. */
export const KANTARA_VERSION = 'KI-CR-v1.1.0';

/**
 * A consent receipt, field for field after the Kantara Consent Receipt v1.1 (names as in the spec).
 * Controller contact details are not known to privgraph and are left out; privgraph-specific facts
 * (the consent and tenant ids, the event, the policy text hash) sit under `privgraph`.
 */
export interface ConsentReceipt {
  version: typeof KANTARA_VERSION;
  jurisdiction: string;
  /** Seconds since the epoch: when the grant or withdrawal took effect. */
  consentTimestamp: number;
  collectionMethod: string;
  consentReceiptID: string;
  language: string;
  /** The subject's pairwise pseudonymous ref for this tenant, never the internal id. */
  piiPrincipalId: string;
  piiControllers: { piiController: string; onBehalf: boolean; piiControllerUrl?: string }[];
  policyUrl: string | null;
  services: {
    service: string;
    purposes: {
      purpose: string;
      purposeCategory: string[];
      consentType: 'EXPLICIT';
      piiCategory: string[];
      primaryPurpose: boolean;
      termination: string;
      thirdPartyDisclosure: boolean;
    }[];
  }[];
  sensitive: boolean;
  spiCat: string[];
  iat: number;
  privgraph: {
    event: ConsentReceiptKind;
    consentId: string;
    tenantId: string;
    policyVersion: string;
    policyTextHash: string | null;
    lawfulBasis: string | null;
    grantedAt: string;
    expiresAt: string | null;
    withdrawnAt: string | null;
  };
}

export interface ReceiptFacts {
  receiptId: string;
  kind: ConsentReceiptKind;
  issuedAt: Date;
  consent: ConsentRow;
  /** The policy version the consent was given against (null only for consents from before policy versions). */
  policy: PolicyVersionRow | null;
  piiPrincipalId: string;
  controllerName: string;
  jurisdiction: string;
  language: string;
}

const seconds = (date: Date) => Math.floor(date.getTime() / 1000);

export function consentReceipt(facts: ReceiptFacts): ConsentReceipt {
  const { consent, policy } = facts;
  const declared = policy?.purposes.find((p) => p.key === consent.purpose);
  const termination = consent.expiresAt
    ? `Ends at ${consent.expiresAt.toISOString()}, or earlier when withdrawn (withdrawConsent).`
    : 'Until withdrawn (withdrawConsent); withdrawal takes effect for the next request.';
  return {
    version: KANTARA_VERSION,
    jurisdiction: facts.jurisdiction,
    consentTimestamp: seconds(facts.issuedAt),
    collectionMethod: consent.collectionMethod ?? 'api',
    consentReceiptID: facts.receiptId,
    language: facts.language,
    piiPrincipalId: facts.piiPrincipalId,
    piiControllers: [{ piiController: facts.controllerName, onBehalf: false }],
    policyUrl: policy?.url ?? null,
    services: [
      {
        service: facts.controllerName,
        purposes: [
          {
            purpose: declared?.description ?? consent.purpose,
            purposeCategory: [consent.purpose],
            consentType: 'EXPLICIT',
            piiCategory: [...consent.categories],
            primaryPurpose: true,
            termination,
            thirdPartyDisclosure: false,
          },
        ],
      },
    ],
    // None of privgraph's categories is a special category of GDPR Art. 9.
    sensitive: false,
    spiCat: [],
    iat: seconds(facts.issuedAt),
    privgraph: {
      event: facts.kind,
      consentId: consent.id,
      tenantId: consent.tenantId,
      policyVersion: consent.policyVersion,
      policyTextHash: policy?.textHash ?? null,
      lawfulBasis: declared?.lawfulBasis ?? null,
      grantedAt: consent.grantedAt.toISOString(),
      expiresAt: consent.expiresAt?.toISOString() ?? null,
      withdrawnAt: facts.kind === 'WITHDRAWAL' ? facts.issuedAt.toISOString() : null,
    },
  };
}

/** The receipt as a compact JWS (ES256) under the platform key, verifiable with the published JWKS. */
export function signReceipt(receipt: ConsentReceipt, key: SigningKey): Promise<string> {
  return signDocument(key, RECEIPT_TYPE, receipt);
}
