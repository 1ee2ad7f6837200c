/**
 * Postal addresses (the WIT `address` record). In JavaScript its fields are already Zyte API's
 * names (`addressCountry`, `addressRegion`, `postalCode`, `streetAddress`), so an address is a
 * plain object that doubles as `setLocation`'s JSON.
 *
 * Policy (from the WIT): a field is absent (`undefined` or `null`) or a string, and an empty
 * string still counts as set. An address is empty, which means "no location", only when all four
 * fields are absent.
 *
 * @example
 * addressToJson({ postalCode: '10001', addressCountry: undefined }); // { postalCode: '10001' }
 * isEmptyAddress({});                                                // true
 * @module
 */

/** The JSON names of the address fields, in the WIT's order. */
export const ADDRESS_FIELDS = Object.freeze(['addressCountry', 'addressRegion', 'postalCode', 'streetAddress']);

/**
 * @typedef {object} Address A postal address; each field is a string or absent.
 * @property {string} [addressCountry] ISO 3166-1 alpha-2 country code, e.g. "US".
 * @property {string} [addressRegion] A website-specific region, e.g. "NY".
 * @property {string} [postalCode] E.g. "10001".
 * @property {string} [streetAddress] E.g. "3 Penn Plz".
 */

/**
 * Whether no field is set: the reference's falsy location.
 * @param {Address | undefined | null} address
 * @returns {boolean}
 */
export function isEmptyAddress(address) {
  return ADDRESS_FIELDS.every((field) => address?.[field] === undefined || address?.[field] === null);
}

/**
 * The address as a Zyte API JSON object, absent fields omitted.
 * @param {Address} address
 * @returns {Address}
 */
export function addressToJson(address) {
  const out = {};
  for (const field of ADDRESS_FIELDS) {
    if (typeof address?.[field] === 'string') out[field] = address[field];
  }
  return out;
}

/**
 * Reads a Zyte API JSON address object. Unknown keys, non-objects and non-string values throw,
 * so that a typo never silently drops a field.
 * @param {unknown} value
 * @returns {Address}
 */
export function addressFromJson(value) {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new Error('an address must be a JSON object');
  }
  for (const [key, text] of Object.entries(value)) {
    if (!ADDRESS_FIELDS.includes(key)) throw new Error(`unknown address field ${JSON.stringify(key)}`);
    if (text !== undefined && text !== null && typeof text !== 'string') {
      throw new Error(`address field ${JSON.stringify(key)} must be a string, not ${JSON.stringify(text)}`);
    }
  }
  return addressToJson(value);
}
