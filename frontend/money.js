// Money in the browser, exactly as the server treats it (shared/money.py): integer cents, parsed
// from the typed text with string operations only, never through binary floating point.

export const MAX_PAYMENT_CENTS = 10000000; // 100000.00, the server's default MAX_PAYMENT_CENTS

const DECIMAL_TEXT = /^-?([0-9]{1,15})(?:\.([0-9]+))?$/;

export class MoneyError extends Error {}

// "150", "150.5", "1,500.25" -> integer cents; throws MoneyError with the server's wording.
export function parseAmountCents(text, maxCents = MAX_PAYMENT_CENTS) {
  const stripped = String(text ?? "").trim().replaceAll(",", "");
  if (!stripped) throw new MoneyError("must not be empty");
  if (stripped.length > 32) throw new MoneyError("is too long to be an amount");
  const match = DECIMAL_TEXT.exec(stripped);
  if (!match) throw new MoneyError("must be a decimal amount like 150 or 150.25");
  const whole = match[1].replace(/^0+(?=[0-9])/, "");
  const fraction = match[2] || "";
  // Trailing zeros are fine (150.000 is 150.00); a real third decimal is not.
  if (fraction.length > 2 && /[^0]/.test(fraction.slice(2))) {
    throw new MoneyError("must have at most 2 decimal places");
  }
  const digits = `${whole}${fraction.slice(0, 2).padEnd(2, "0")}`.replace(/^0+(?=[0-9])/, "");
  if (stripped.startsWith("-") || /^0+$/.test(digits)) {
    throw new MoneyError("must be greater than 0");
  }
  const maxDigits = String(maxCents);
  if (digits.length > maxDigits.length || (digits.length === maxDigits.length && digits > maxDigits)) {
    throw new MoneyError(`must be at most ${centsToDecimal(maxCents)}`);
  }
  return Number.parseInt(digits, 10); // at most 9 digits here: an exact integer
}

// 15000 -> "150.00" with integer and string operations only.
export function centsToDecimal(cents) {
  if (!Number.isSafeInteger(cents)) return "0.00";
  const sign = cents < 0 ? "-" : "";
  const text = String(Math.abs(cents)).padStart(3, "0");
  return `${sign}${text.slice(0, -2)}.${text.slice(-2)}`;
}

const formatters = new Map();

// Display only: Intl.NumberFormat in the event's currency, given the exact decimal string (Intl
// formats decimal strings without converting them to binary floating point).
export function formatMoney(cents, currency = "USD") {
  const code = /^[A-Z]{3}$/.test(currency || "") ? currency : "USD";
  let formatter = formatters.get(code);
  if (!formatter) {
    formatter = new Intl.NumberFormat("en-US", { style: "currency", currency: code });
    formatters.set(code, formatter);
  }
  return formatter.format(centsToDecimal(cents));
}
