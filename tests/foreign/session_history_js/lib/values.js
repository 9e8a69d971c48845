'use strict';
// The spec's errors, and the value rules every argument meets before anything is read.

const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;

class StoreError extends Error {
  constructor(error, operation, detail, extra = {}) {
    super(`${error} in session_history.${operation}: ${detail}`);
    this.data = { error, spec: 'session_history', operation, detail, ...extra };
  }
}

const validation = (operation, detail) => new StoreError('ValidationError', operation, detail);
const notFound = (operation, detail) => new StoreError('NotFound', operation, detail);
const conflict = (operation, detail) => new StoreError('Conflict', operation, detail);
const constraint = (operation, kind, detail) =>
  new StoreError('ConstraintViolation', operation, detail, { kind });
const storageFailed = (operation, cause, detail) =>
  new StoreError('StorageFailed', operation, detail, { cause });

function shown(value) {
  if (typeof value === 'bigint') return value.toString();
  if (typeof value === 'string') return JSON.stringify(value.length > 60 ? `${value.slice(0, 60)}...` : value);
  try {
    const text = JSON.stringify(value, (_, item) => (typeof item === 'bigint' ? item.toString() : item));
    return text === undefined ? String(value) : text.slice(0, 80);
  } catch {
    return String(value);
  }
}

// --- instants ------------------------------------------------------------------
// JavaScript's Date keeps milliseconds and the spec keeps microseconds, so instants
// travel as text: parsed by hand, shifted to UTC by hand, and stored in one fixed-width
// form whose text order is time order.

const INSTANT = /^(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,6}))?)?(Z|[+-]\d{2}:?\d{2}(?::\d{2}(?:\.\d{1,6})?)?)?$/;
const MICROS_PER_DAY = 86400000000n;

function daysFromCivil(year, month, day) {
  const y = month <= 2 ? year - 1 : year;
  const era = Math.floor(y / 400);
  const yearOfEra = y - era * 400;
  const dayOfYear = Math.floor((153 * (month + (month > 2 ? -3 : 9)) + 2) / 5) + day - 1;
  const dayOfEra = yearOfEra * 365 + Math.floor(yearOfEra / 4) - Math.floor(yearOfEra / 100) + dayOfYear;
  return era * 146097 + dayOfEra - 719468;
}

function civilFromDays(days) {
  const z = days + 719468;
  const era = Math.floor(z / 146097);
  const dayOfEra = z - era * 146097;
  const yearOfEra = Math.floor((dayOfEra - Math.floor(dayOfEra / 1460) + Math.floor(dayOfEra / 36524)
    - Math.floor(dayOfEra / 146096)) / 365);
  const dayOfYear = dayOfEra - (365 * yearOfEra + Math.floor(yearOfEra / 4) - Math.floor(yearOfEra / 100));
  const monthIndex = Math.floor((5 * dayOfYear + 2) / 153);
  const day = dayOfYear - Math.floor((153 * monthIndex + 2) / 5) + 1;
  const month = monthIndex < 10 ? monthIndex + 3 : monthIndex - 9;
  return [yearOfEra + era * 400 + (month <= 2 ? 1 : 0), month, day];
}

const daysInMonth = (year, month) =>
  [31, (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0 ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][month - 1];

function offsetMicros(offset) {
  if (offset === 'Z') return 0n;
  const sign = offset[0] === '-' ? -1n : 1n;
  const digits = offset.slice(1).replace(/^(\d{2})(\d{2})/, '$1:$2');
  const [hours, minutes, seconds = '0'] = digits.split(':');
  const [whole, fraction = ''] = seconds.split('.');
  const micros = ((BigInt(hours) * 60n + BigInt(minutes)) * 60n + BigInt(whole)) * 1000000n
    + BigInt(fraction.padEnd(6, '0'));
  return micros >= MICROS_PER_DAY ? null : sign * micros;
}

const pad = (number, width) => String(number).padStart(width, '0');

/** Microseconds since the epoch of an aware ISO 8601 text, or a reason it is none. */
function instantMicros(text) {
  const match = INSTANT.exec(text);
  if (match === null) return { reason: 'is not an ISO 8601 date and time' };
  const [, year, month, day, hour, minute, second = '0', fraction = '', offset] = match;
  const [y, mo, d, h, mi, s] = [year, month, day, hour, minute, second].map(Number);
  if (mo < 1 || mo > 12 || d < 1 || d > daysInMonth(y, mo) || h > 23 || mi > 59 || s > 59 || y < 1) {
    return { reason: 'is not a valid date and time' };
  }
  if (offset === undefined) return { reason: 'must be timezone-aware (UTC)' };
  const shift = offsetMicros(offset);
  if (shift === null) return { reason: 'has an offset of a day or more' };
  const local = (BigInt(daysFromCivil(y, mo, d)) * 86400n + BigInt(h * 3600 + mi * 60 + s)) * 1000000n
    + BigInt(fraction.padEnd(6, '0'));
  return { micros: local - shift };
}

const FIRST_DAY = BigInt(daysFromCivil(1, 1, 1));
const LAST_DAY = BigInt(daysFromCivil(9999, 12, 31));

function utcText(micros) {
  const days = micros >= 0n ? micros / MICROS_PER_DAY : -((-micros + MICROS_PER_DAY - 1n) / MICROS_PER_DAY);
  if (days < FIRST_DAY || days > LAST_DAY) return null;
  const within = micros - days * MICROS_PER_DAY;
  const [year, month, day] = civilFromDays(Number(days));
  const seconds = Number(within / 1000000n);
  const fraction = within % 1000000n;
  return `${pad(year, 4)}-${pad(month, 2)}-${pad(day, 2)}T${pad(Math.floor(seconds / 3600), 2)}:`
    + `${pad(Math.floor(seconds / 60) % 60, 2)}:${pad(seconds % 60, 2)}.${pad(fraction, 6)}Z`;
}

// --- the checker ---------------------------------------------------------------

// String.prototype.isWellFormed arrived in Node.js 20; this runs on 18 too.
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

const isObject = (value) => value !== null && typeof value === 'object' && !Array.isArray(value);

class Check {
  constructor(operation, options = {}) {
    this.operation = operation;
    this.millisecondInstants = Boolean(options.millisecondInstants);
  }

  fail(detail, value) {
    return validation(this.operation, value === undefined ? detail : `${detail}: ${shown(value)}`);
  }

  text(name, value) {
    if (typeof value !== 'string') throw this.fail(`${name} must be a string`, value);
    if (LONE_SURROGATE.test(value)) throw this.fail(`${name} is not valid Unicode (lone surrogate)`, value);
    return value;
  }

  optionalText(name, value) {
    return value === null || value === undefined ? null : this.text(name, value);
  }

  integer(name, value) {
    if (typeof value !== 'bigint') throw this.fail(`${name} must be an integer`, value);
    if (value < INT64_MIN || value > INT64_MAX) throw this.fail(`${name} must fit in 64 bits`, value);
    return value;
  }

  optionalInteger(name, value) {
    return value === null || value === undefined ? null : this.integer(name, value);
  }

  flag(name, value) {
    if (value === null || value === undefined) return null;
    if (typeof value !== 'boolean') throw this.fail(`${name} must be a bool`, value);
    return value;
  }

  /** An aware instant, as the stored UTC text. */
  instant(name, value) {
    if (typeof value !== 'string') throw this.fail(`${name} must be a datetime`, value);
    const found = instantMicros(value);
    if (found.reason !== undefined) throw this.fail(`${name} ${found.reason}`, value);
    const micros = this.millisecondInstants ? found.micros - (found.micros % 1000n) : found.micros;
    const text = utcText(micros);
    if (text === null) throw this.fail(`${name} is outside the years 1 to 9999 in UTC`, value);
    return text;
  }

  optionalInstant(name, value) {
    return value === null || value === undefined ? null : this.instant(name, value);
  }

  list(name, value, item) {
    if (!Array.isArray(value)) throw this.fail(`${name} must be a list`, value);
    return value.map((entry, index) => item(`${name}[${index}]`, entry));
  }

  oneOf(name, value, allowed) {
    if (!allowed.includes(value)) throw this.fail(`${name} must be one of ${allowed.join(', ')}`, value);
    return value;
  }

  limit(value, maximum = 1000n) {
    const limit = this.integer('limit', value);
    if (limit < 1n || limit > maximum) throw this.fail(`limit must be between 1 and ${maximum}`, value);
    return Number(limit);
  }

  /** A record: an object with no member the record lacks; members left out take `defaults`. */
  record(name, value, fields, defaults = {}) {
    if (!isObject(value)) throw this.fail(`${name} must be an object`, value);
    const unknown = Object.keys(value).filter((key) => !fields.includes(key));
    if (unknown.length > 0) throw this.fail(`${name} has no field ${unknown[0]}`, value);
    const out = {};
    for (const field of fields) out[field] = field in value ? value[field] : (defaults[field] ?? null);
    return out;
  }
}

module.exports = {
  Check, StoreError, INT64_MAX, isObject, validation, notFound, conflict, constraint, storageFailed,
};
