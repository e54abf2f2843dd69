/** Money in units of 1e-10 USD, so that cost arithmetic stays exact in BigInt. */
const SCALE_DIGITS = 10;

export function decimalToUnits(decimal: string): bigint {
  const [whole = '0', fraction = ''] = decimal.split('.');
  return (
    BigInt(whole) * 10n ** BigInt(SCALE_DIGITS) +
    BigInt(fraction.padEnd(SCALE_DIGITS, '0').slice(0, SCALE_DIGITS))
  );
}

/** A catalogue's price, a JavaScript number written as a decimal literal (0.075), in units. */
export function numberToUnits(value: number): bigint {
  return decimalToUnits(value.toFixed(SCALE_DIGITS));
}

export function unitsToDecimal(units: bigint): string {
  const whole = units / 10n ** BigInt(SCALE_DIGITS);
  const fraction = (units % 10n ** BigInt(SCALE_DIGITS))
    .toString()
    .padStart(SCALE_DIGITS, '0')
    .replace(/0+$/, '');
  return fraction ? `${whole}.${fraction}` : whole.toString();
}
