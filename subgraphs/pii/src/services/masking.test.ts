import { applyMask } from './masking';

describe('masked views', () => {
  test.each([
    ['EMAIL', 'alice.smith@example.com', 'a***@example.com'],
    ['EMAIL', 'Ärger@example.de', 'Ä***@example.de'],
    ['PHONE', '+4930123451234', '*** *** 1234'],
    ['INITIAL', 'alice', 'A.'],
    ['LAST4', 'L01X 00T47', '***0T47'],
  ] as const)('%s turns %s into %s', (mask, value, masked) => {
    expect(applyMask(mask, value)).toBe(masked);
  });

  test('ADDRESS keeps city and country only', () => {
    expect(applyMask('ADDRESS', { line1: 'Hauptstraße 1', line2: 'Hinterhaus', city: 'Berlin', postalCode: '10115', country: 'DE' })).toEqual({
      line1: '***',
      line2: null,
      city: 'Berlin',
      postalCode: '***',
      country: 'DE',
    });
  });
});
