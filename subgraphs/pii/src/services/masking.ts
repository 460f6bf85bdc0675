import type { PiiMask } from '../../../../shared/pii';
import type { AddressValue } from './profile-input';

/**
 * Masked views released under a category's `:masked` scope. Each keeps just enough to recognise or
 * route (the first letter and domain of an email, the last digits of a number, the city and country
 * of an address) and never enough to contact or identify the person.
 */
export function applyMask(mask: PiiMask, value: string | AddressValue): string | AddressValue {
  switch (mask) {
    case 'EMAIL': {
      const text = value as string;
      const at = text.lastIndexOf('@');
      return `${[...text.slice(0, at)][0] ?? ''}***${text.slice(at)}`;
    }
    case 'PHONE': {
      const digits = (value as string).replace(/\D/g, '');
      return `*** *** ${digits.slice(-4)}`;
    }
    case 'INITIAL':
      return `${([...(value as string)][0] ?? '').toUpperCase()}.`;
    case 'LAST4': {
      const text = (value as string).replace(/\s/g, '');
      return `***${text.slice(-4)}`;
    }
    case 'ADDRESS': {
      const address = value as AddressValue;
      return { line1: '***', line2: null, city: address.city, postalCode: '***', country: address.country };
    }
  }
}
