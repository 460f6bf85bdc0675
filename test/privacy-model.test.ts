import fc from 'fast-check';
import { startTestStack, TestClock, type TestStack } from './kit/stack';
import { auditEvents, codes, createTenant, expectNoErrors, policyVersionFor, type AuditNode, type Subject } from './kit/scenario';

/**
 * The privacy invariant as a model-based test: random sequences of profile writes, grants,
 * withdrawals, expiries and tenant queries run against the real graph, and after every query each
 * PII value (and each refusal) is checked against a model of who consented to what, and against
 * the audit events recorded for that very request.
 *
 * Replay a failure with MODEL_SEED=<seed> (and MODEL_PATH=<path>) from the printed report;
 * MODEL_RUNS sets the number of command sequences.
 */

const CATEGORY_OF = {
  email: 'CONTACT',
  phone: 'CONTACT',
  givenName: 'IDENTITY',
  birthDate: 'IDENTITY',
  address: 'ADDRESS',
  nationalId: 'GOVERNMENT_ID',
} as const;
type Field = keyof typeof CATEGORY_OF;
type Category = (typeof CATEGORY_OF)[Field];
const FIELDS = Object.keys(CATEGORY_OF) as Field[];
const CATEGORIES: Category[] = ['CONTACT', 'IDENTITY', 'ADDRESS', 'GOVERNMENT_ID'];
const SCOPES = CATEGORIES.map((c) => `pii:${c.toLowerCase()}:read`);
const PURPOSES = ['order_fulfillment', 'marketing'];
/** Mostly the first purpose, so grants and queries meet often enough to exercise ALLOW. */
const purposeArb = fc.oneof({ weight: 3, arbitrary: fc.constant(PURPOSES[0]) }, { weight: 1, arbitrary: fc.constant(PURPOSES[1]) });
const TENANTS = 2;
const SUBJECTS = 2;

interface ModelConsent {
  id: string;
  subject: number;
  tenant: number;
  purpose: string;
  categories: Set<Category>;
  expiresAt: number | null;
  withdrawn: boolean;
  superseded: boolean;
}

interface Model {
  consents: ModelConsent[];
}

interface Real {
  stack: TestStack;
  tenants: string[];
  subjects: (Subject & { profile: Record<Field, unknown> })[];
}

let stack: TestStack;
const clock = new TestClock({ frozen: true });
let tenants: string[];
let run = 0;
/** How often each outcome was exercised: a model test that never reaches ALLOW proves little. */
const outcomes: Record<string, number> = {};

function activeConsent(model: Model, subject: number, tenant: number, purpose: string): ModelConsent | undefined {
  const now = clock.now().getTime();
  return model.consents.find(
    (c) => c.subject === subject && c.tenant === tenant && c.purpose === purpose && !c.withdrawn && !c.superseded && (c.expiresAt === null || c.expiresAt > now),
  );
}

class GrantCommand implements fc.AsyncCommand<Model, Real> {
  constructor(
    readonly subject: number,
    readonly tenant: number,
    readonly purpose: string,
    readonly categories: Category[],
    readonly expiresInSeconds: number | null,
  ) {}
  check = () => true;
  async run(model: Model, real: Real) {
    const expiresAt = this.expiresInSeconds === null ? null : clock.now().getTime() + this.expiresInSeconds * 1000;
    const tenantId = real.tenants[this.tenant];
    const policyVersion = await policyVersionFor(real.stack, tenantId, this.purpose, this.categories);
    const response = await real.stack.gql<{ grantConsent: { id: string } }>(
      'mutation($input: GrantConsentInput!) { grantConsent(input: $input) { id } }',
      { input: { tenantId, purpose: this.purpose, categories: this.categories, policyVersion, ...(expiresAt === null ? {} : { expiresAt: new Date(expiresAt).toISOString() }) } },
      { token: real.subjects[this.subject].token },
    );
    if (codes(response).includes('ALREADY_EXISTS')) {
      // Refused only as a repeat of the active consent: same categories, same expiry; nothing changes.
      const active = activeConsent(model, this.subject, this.tenant, this.purpose);
      expect(active && active.expiresAt === expiresAt && [...active.categories].sort().join() === [...new Set(this.categories)].sort().join()).toBe(true);
      outcomes.duplicateGrant = (outcomes.duplicateGrant ?? 0) + 1;
      return;
    }
    expectNoErrors(response);
    const id = response.data!.grantConsent.id;
    for (const c of model.consents) {
      if (c.subject === this.subject && c.tenant === this.tenant && c.purpose === this.purpose && !c.withdrawn) c.superseded = true;
    }
    model.consents.push({ id, subject: this.subject, tenant: this.tenant, purpose: this.purpose, categories: new Set(this.categories), expiresAt, withdrawn: false, superseded: false });
  }
  toString = () => `grant(s${this.subject} → t${this.tenant}, ${this.purpose}, [${this.categories}], expires in ${this.expiresInSeconds ?? '∞'}s)`;
}

class WithdrawCommand implements fc.AsyncCommand<Model, Real> {
  constructor(readonly subject: number, readonly pick: number) {}
  check = (model: Readonly<Model>) => model.consents.some((c) => c.subject === this.subject);
  async run(model: Model, real: Real) {
    const own = model.consents.filter((c) => c.subject === this.subject);
    const consent = own[this.pick % own.length];
    const response = await real.stack.gql('mutation($id: ID!) { withdrawConsent(id: $id) { id } }', { id: consent.id }, { token: real.subjects[this.subject].token });
    expectNoErrors(response);
    consent.withdrawn = true;
  }
  toString = () => `withdraw(s${this.subject}, #${this.pick})`;
}

class AdvanceTimeCommand implements fc.AsyncCommand<Model, Real> {
  constructor(readonly seconds: number) {}
  check = () => true;
  async run() {
    clock.advance(this.seconds * 1000);
  }
  toString = () => `advance(${this.seconds}s)`;
}

class TenantQueryCommand implements fc.AsyncCommand<Model, Real> {
  constructor(
    readonly tenant: number,
    readonly scopes: string[],
    readonly purpose: string | null,
    readonly subject: number,
    readonly refOf: number,
    readonly fields: Field[],
  ) {}
  check = () => true;
  async run(model: Model, real: Real) {
    const { stack: s } = real;
    const tenantId = real.tenants[this.tenant];
    const token = await s.tokens.tenant(tenantId, this.scopes);
    const target = real.subjects[this.subject];
    const selection = this.fields.map((f) => (f === 'address' ? 'address { line1 city postalCode country }' : f)).join(' ');
    const response = await s.gql(`query($ref: ID!) { user(ref: $ref) { ref ${selection} } }`, { ref: target.refs[real.tenants[this.refOf]] }, { token, purpose: this.purpose ?? undefined });
    const requestId = response.headers.get('x-request-id') as string;
    const events = await auditEvents(s, token, { requestId });

    if (this.refOf !== this.tenant) {
      // A ref handed to another tenant: indistinguishable from an unknown one, and nothing is read.
      expect(response.data).toEqual({ user: null });
      expect(response.errors?.map((e) => e.extensions?.code)).toEqual(['NOT_FOUND']);
      expect(events).toEqual([]);
      return;
    }
    const user = response.data?.user as Record<string, unknown>;
    expect(user.ref).toBe(target.refs[tenantId]);
    for (const field of this.fields) {
      const category = CATEGORY_OF[field];
      const consent = this.purpose ? activeConsent(model, this.subject, this.tenant, this.purpose) : undefined;
      const expected = !this.scopes.includes(`pii:${category.toLowerCase()}:read`)
        ? 'SCOPE_REQUIRED'
        : this.purpose === null || !PURPOSES.includes(this.purpose)
          ? this.purpose === null || this.purpose.includes('!')
            ? 'PURPOSE_REQUIRED'
            : 'CONSENT_REQUIRED'
          : consent && consent.categories.has(category)
            ? 'ALLOW'
            : 'CONSENT_REQUIRED';
      outcomes[expected] = (outcomes[expected] ?? 0) + 1;
      if (expected === 'CONSENT_REQUIRED' && consent) outcomes['CONSENT_REQUIRED (category not covered)'] = (outcomes['CONSENT_REQUIRED (category not covered)'] ?? 0) + 1;
      const recorded = events.filter((e: AuditNode) => e.field === `User.${field}`);
      expect({ field, events: recorded.length }).toEqual({ field, events: 1 });
      const [event] = recorded;
      expect(event.tenantId).toBe(tenantId);
      expect(event.subjectRef).toBe(target.refs[tenantId]);
      if (expected === 'ALLOW') {
        expect({ field, value: user[field] }).toEqual({ field, value: target.profile[field] });
        expect(event).toMatchObject({ decision: 'ALLOW', reason: 'CONSENT', consentId: consent!.id, purpose: this.purpose });
      } else {
        expect({ field, value: user[field] }).toEqual({ field, value: null });
        const error = response.errors?.find((e) => e.path?.join('.') === `user.${field}`);
        expect({ field, code: error?.extensions?.code }).toEqual({ field, code: expected });
        expect(event).toMatchObject({ decision: 'DENY', reason: expected, consentId: null });
      }
    }
    // Nothing of another subject ever appears in the answer.
    const other = real.subjects[1 - this.subject];
    expect(JSON.stringify(response.data)).not.toContain(String(other.profile.email));
  }
  toString = () => `query(t${this.tenant} [${this.scopes}] purpose=${this.purpose} → s${this.subject} via ref of t${this.refOf}: ${this.fields})`;
}

class SelfQueryCommand implements fc.AsyncCommand<Model, Real> {
  constructor(readonly subject: number) {}
  check = () => true;
  async run(_model: Model, real: Real) {
    const me = real.subjects[this.subject];
    const response = await real.stack.gql('{ me { email nationalId } }', {}, { token: me.token });
    expectNoErrors(response);
    expect(response.data?.me).toEqual({ email: me.profile.email, nationalId: me.profile.nationalId });
  }
  toString = () => `me(s${this.subject})`;
}

const subjectIndex = fc.integer({ min: 0, max: SUBJECTS - 1 });
const tenantIndex = fc.integer({ min: 0, max: TENANTS - 1 });
const commands = [
  fc
    .tuple(subjectIndex, tenantIndex, purposeArb, fc.subarray(CATEGORIES, { minLength: 1 }), fc.option(fc.integer({ min: 1, max: 120 }), { nil: null, freq: 2 }))
    .map(([s, t, p, c, e]) => new GrantCommand(s, t, p, c, e)),
  fc.tuple(subjectIndex, fc.nat(10)).map(([s, i]) => new WithdrawCommand(s, i)),
  fc.integer({ min: 1, max: 60 }).map((seconds) => new AdvanceTimeCommand(seconds)),
  fc
    .tuple(
      tenantIndex,
      fc.oneof({ weight: 2, arbitrary: fc.constant(SCOPES) }, { weight: 1, arbitrary: fc.subarray(SCOPES) }),
      fc.option(fc.oneof({ weight: 8, arbitrary: purposeArb }, { weight: 1, arbitrary: fc.constantFrom('support', 'Bad Purpose!') }), { nil: null, freq: 6 }),
      subjectIndex,
      fc.integer({ min: 0, max: 9 }),
      fc.subarray(FIELDS, { minLength: 1 }),
    )
    // Mostly the tenant's own refs; sometimes another tenant's.
    .map(([t, scopes, purpose, s, foreign, fields]) => new TenantQueryCommand(t, scopes, purpose, s, foreign === 0 ? 1 - t : t, fields)),
  subjectIndex.map((s) => new SelfQueryCommand(s)),
];
// Queries are where the invariant is checked, and a query can only be allowed after a grant:
// weight both up (fc.commands picks uniformly among the entries).
commands.push(commands[0], commands[3], commands[3]);

async function freshSubjects(): Promise<Real['subjects']> {
  run += 1;
  const subjects: Real['subjects'] = [];
  for (let i = 0; i < SUBJECTS; i += 1) {
    const name = `model-${run}-${i}`;
    const profile: Record<Field, unknown> = {
      email: `${name}@example.com`,
      phone: `+4930${String(1_000_000 + run * 10 + i)}`,
      givenName: `Given${run}x${i}`,
      birthDate: '1985-03-0' + (1 + i),
      address: { line1: `Street ${run}`, city: 'Berlin', postalCode: '10115', country: 'DE' },
      nationalId: `ID${run}X${i}`,
    };
    const token = await stack.tokens.subject(name);
    expectNoErrors(await stack.gql('mutation($i: ProfileInput!) { updateMyProfile(input: $i) { email } }', { i: profile }, { token }));
    const refs: Record<string, string> = {};
    for (const tenantId of tenants) {
      const linked = await stack.gql<{ connectTenant: { ref: string } }>('mutation($t: ID!) { connectTenant(tenantId: $t) { ref } }', { t: tenantId }, { token });
      expectNoErrors(linked);
      refs[tenantId] = linked.data!.connectTenant.ref;
    }
    subjects.push({ name, token, refs, profile });
  }
  return subjects;
}

describe('privacy invariant (model-based)', () => {
  beforeAll(async () => {
    stack = await startTestStack({ clock });
    tenants = [];
    for (let i = 0; i < TENANTS; i += 1) tenants.push(await createTenant(stack, `Model Shop ${i}`));
  });
  afterAll(() => stack?.stop());

  test('every released value is covered by scope, purpose, an active consent and an ALLOW event; every refusal by a DENY event', async () => {
    const seed = process.env.MODEL_SEED ? Number(process.env.MODEL_SEED) : Date.now() ^ (Math.random() * 0x7fffffff);
    const runs = Number(process.env.MODEL_RUNS ?? 120);
    await fc.assert(
      fc.asyncProperty(fc.commands(commands, { maxCommands: 15, size: 'max' }), async (cmds) => {
        const real: Real = { stack, tenants, subjects: await freshSubjects() };
        await fc.asyncModelRun(() => ({ model: { consents: [] }, real }), cmds);
      }),
      { numRuns: runs, seed, path: process.env.MODEL_PATH, endOnFailure: true, verbose: 1 },
    );
    process.stdout.write(`privacy model: ${runs} sequences, seed ${seed}, outcomes ${JSON.stringify(outcomes)}\n`);
    for (const outcome of ['ALLOW', 'SCOPE_REQUIRED', 'PURPOSE_REQUIRED', 'CONSENT_REQUIRED', 'CONSENT_REQUIRED (category not covered)']) {
      expect({ outcome, seen: (outcomes[outcome] ?? 0) > 0 }).toEqual({ outcome, seen: true });
    }
  }, 300_000);
});
