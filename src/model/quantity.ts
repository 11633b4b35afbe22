// Kubernetes resource quantities ("100m", "1.5Gi", "2e3"), read exactly: as a whole number of
// nano-units (BigInt), so "0.1" and "100m" compare equal and no float rounds a bound. The grammar
// is apimachinery's resource.Quantity (Kubernetes API reference, "Quantity"): a signed decimal
// number, then a binary suffix (Ki … Ei), a decimal one (n u m "" k M G T P E), or an exponent.
// Written here rather than taken from @kubernetes/client-node (quantityToScalar): the engine and
// the policy compiler import nothing of the client, whose entry point loads its HTTP clients, and
// that function returns a float for fractions.

const NANO = 1_000_000_000n;

const DECIMAL: Record<string, bigint> = {
  n: 1n,
  u: 1_000n,
  m: 1_000_000n,
  '': NANO,
  k: NANO * 10n ** 3n,
  M: NANO * 10n ** 6n,
  G: NANO * 10n ** 9n,
  T: NANO * 10n ** 12n,
  P: NANO * 10n ** 15n,
  E: NANO * 10n ** 18n,
};
const BINARY: Record<string, bigint> = {
  Ki: NANO * 2n ** 10n,
  Mi: NANO * 2n ** 20n,
  Gi: NANO * 2n ** 30n,
  Ti: NANO * 2n ** 40n,
  Pi: NANO * 2n ** 50n,
  Ei: NANO * 2n ** 60n,
};

// Bounded: a quantity is at most 64 characters, its exponent two digits.
const QUANTITY = /^([+-]?)(\d{1,30}(?:\.\d{0,30})?|\.\d{1,30})(?:(Ki|Mi|Gi|Ti|Pi|Ei|[numkMGTPE])|[eE]([+-]?\d{1,2}))?$/;

/** The quantity in nano-units, or undefined when `text` is not a quantity (or is below 1n). */
export function parseQuantity(text: string): bigint | undefined {
  if (text.length > 64) return undefined;
  const match = QUANTITY.exec(text);
  if (match === null) return undefined;
  const [, sign, number, suffix, exponent] = match as unknown as [string, string, string, string | undefined, string | undefined];
  const [whole = '', fraction = ''] = number.split('.');
  const digits = BigInt(`${whole}${fraction}` || '0');
  let scale = suffix === undefined ? NANO : (BINARY[suffix] ?? DECIMAL[suffix] ?? NANO);
  let divisor = 10n ** BigInt(fraction.length);
  if (exponent !== undefined) {
    const e = Number(exponent);
    if (e >= 0) scale *= 10n ** BigInt(e);
    else divisor *= 10n ** BigInt(-e);
  }
  const value = (digits * scale) / divisor;
  return sign === '-' ? -value : value;
}

/** Memory's units in bytes, in the order formatQuantity tries them: the binary ones, then the decimal ones, each largest first. */
const MEMORY_UNITS = [
  ['Ei', 2n ** 60n],
  ['Pi', 2n ** 50n],
  ['Ti', 2n ** 40n],
  ['Gi', 2n ** 30n],
  ['Mi', 2n ** 20n],
  ['Ki', 2n ** 10n],
  ['E', 10n ** 18n],
  ['P', 10n ** 15n],
  ['T', 10n ** 12n],
  ['G', 10n ** 9n],
  ['M', 10n ** 6n],
  ['k', 10n ** 3n],
] as const;

/**
 * A quantity for `nano` nano-units, rounded up (cpu to a millicore, memory to a byte), spelled
 * as the API server stores it (apimachinery canonicalizes a quantity in the format of its suffix),
 * so a pod that comes back through admission still holds the same text: cpu in cores or
 * millicores ("2", "250m"), memory in the largest binary unit that divides it ("96Mi"), else the
 * largest decimal one ("100M", "1500").
 */
export function formatQuantity(nano: bigint, resource: 'cpu' | 'memory'): string {
  if (resource === 'cpu') {
    const milli = (nano + 999_999n) / 1_000_000n;
    return milli % 1000n === 0n ? String(milli / 1000n) : `${milli}m`;
  }
  const bytes = (nano + NANO - 1n) / NANO;
  if (bytes === 0n) return '0';
  for (const [suffix, size] of MEMORY_UNITS) {
    if (bytes % size === 0n) return `${bytes / size}${suffix}`;
  }
  return String(bytes);
}
