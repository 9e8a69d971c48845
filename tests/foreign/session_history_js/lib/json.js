'use strict';
// JSON with integers kept exact: JSON.parse turns 9223372036854775807 into
// 9223372036854775808, and an id or a total past 2**53 must come back as sent.
// Integer literals become BigInt, literals with a fraction or exponent become
// Number, so `1` and `1.0` stay apart (the wire sends 1.0 for a float).

const NUMBER = /-?(?:0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?/y;
const ESCAPES = { '"': '"', '\\': '\\', '/': '/', b: '\b', f: '\f', n: '\n', r: '\r', t: '\t' };

class JsonSyntaxError extends Error {}

/** JSON that parses but is refused as a request: too deep, or a number out of range. */
class JsonRefused extends Error {}

const MAX_DEPTH = 100;

function parse(text) {
  let at = 0;
  let depth = 0;
  const deeper = () => {
    depth += 1;
    if (depth > MAX_DEPTH) throw new JsonRefused(`nested deeper than ${MAX_DEPTH} levels`);
  };

  const fail = (what) => {
    throw new JsonSyntaxError(`${what} at offset ${at}`);
  };
  const skipSpace = () => {
    for (;;) {
      const code = text.charCodeAt(at);
      if (code === 32 || code === 9 || code === 10 || code === 13) at += 1;
      else return;
    }
  };
  const literal = (word, value) => {
    if (!text.startsWith(word, at)) fail('unexpected character');
    at += word.length;
    return value;
  };

  function string() {
    at += 1;
    let out = '';
    let start = at;
    for (;;) {
      const code = text.charCodeAt(at);
      if (code === 34) {
        out += text.slice(start, at);
        at += 1;
        return out;
      }
      if (code === 92) {
        out += text.slice(start, at);
        const escape = text[at + 1];
        if (escape === 'u') {
          const hex = text.slice(at + 2, at + 6);
          if (!/^[0-9a-fA-F]{4}$/.test(hex)) fail('bad \\u escape');
          out += String.fromCharCode(parseInt(hex, 16));
          at += 6;
        } else if (escape in ESCAPES) {
          out += ESCAPES[escape];
          at += 2;
        } else {
          fail('bad escape');
        }
        start = at;
      } else if (Number.isNaN(code)) {
        fail('unterminated string');
      } else if (code < 32) {
        fail('control character in string');
      } else {
        at += 1;
      }
    }
  }

  function number() {
    NUMBER.lastIndex = at;
    const match = NUMBER.exec(text);
    if (match === null) fail('unexpected character');
    at = NUMBER.lastIndex;
    if (match[1] === undefined && match[2] === undefined) return BigInt(match[0]);
    const number = Number(match[0]);
    if (!Number.isFinite(number)) throw new JsonRefused(`the number ${match[0]} is out of range`);
    return number;
  }

  function value() {
    skipSpace();
    switch (text[at]) {
      case '{': {
        at += 1;
        deeper();
        const object = Object.create(null);
        skipSpace();
        if (text[at] === '}') {
          at += 1;
          depth -= 1;
          return object;
        }
        for (;;) {
          skipSpace();
          if (text[at] !== '"') fail('expected a member name');
          const key = string();
          skipSpace();
          if (text[at] !== ':') fail("expected ':'");
          at += 1;
          object[key] = value();
          skipSpace();
          if (text[at] === ',') at += 1;
          else if (text[at] === '}') {
            at += 1;
            depth -= 1;
            return object;
          } else fail("expected ',' or '}'");
        }
      }
      case '[': {
        at += 1;
        deeper();
        const array = [];
        skipSpace();
        if (text[at] === ']') {
          at += 1;
          depth -= 1;
          return array;
        }
        for (;;) {
          array.push(value());
          skipSpace();
          if (text[at] === ',') at += 1;
          else if (text[at] === ']') {
            at += 1;
            depth -= 1;
            return array;
          } else fail("expected ',' or ']'");
        }
      }
      case '"':
        return string();
      case 't':
        return literal('true', true);
      case 'f':
        return literal('false', false);
      case 'n':
        return literal('null', null);
      default:
        return number();
    }
  }

  const result = value();
  skipSpace();
  if (at !== text.length) fail('trailing characters');
  return result;
}

function stringify(value) {
  if (value === null || value === undefined) return 'null';
  switch (typeof value) {
    case 'bigint':
      return value.toString();
    case 'number':
      if (!Number.isFinite(value)) throw new TypeError(`cannot send ${value} as JSON`);
      return JSON.stringify(value);
    case 'string':
    case 'boolean':
      return JSON.stringify(value);
    default:
      if (Array.isArray(value)) return `[${value.map(stringify).join(',')}]`;
      return `{${Object.keys(value)
        .filter((key) => value[key] !== undefined)
        .map((key) => `${JSON.stringify(key)}:${stringify(value[key])}`)
        .join(',')}}`;
  }
}

const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/** The bytes a wire value `{"$bytes": base64}` carries; null if its text is no base64. */
function bytesOf(value) {
  if (typeof value.$bytes !== 'string' || !BASE64.test(value.$bytes)) return null;
  return Uint8Array.from(Buffer.from(value.$bytes, 'base64'));
}

module.exports = { parse, stringify, bytesOf, JsonSyntaxError, JsonRefused, MAX_DEPTH };
