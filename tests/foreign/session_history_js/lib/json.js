'use strict';
// JSON with integers kept exact: JSON.parse turns 9223372036854775807 into
// 9223372036854775808, and an id or a total past 2**53 must come back as sent.
// Integer literals become BigInt, literals with a fraction or exponent become
// Number, so `1` and `1.0` stay apart (the wire sends 1.0 for a float).

const NUMBER = /-?(?:0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?/y;
const ESCAPES = { '"': '"', '\\': '\\', '/': '/', b: '\b', f: '\f', n: '\n', r: '\r', t: '\t' };

class JsonSyntaxError extends Error {}

function parse(text) {
  let at = 0;

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
    return match[1] === undefined && match[2] === undefined ? BigInt(match[0]) : Number(match[0]);
  }

  function value() {
    skipSpace();
    switch (text[at]) {
      case '{': {
        at += 1;
        const object = Object.create(null);
        skipSpace();
        if (text[at] === '}') {
          at += 1;
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
            return object;
          } else fail("expected ',' or '}'");
        }
      }
      case '[': {
        at += 1;
        const array = [];
        skipSpace();
        if (text[at] === ']') {
          at += 1;
          return array;
        }
        for (;;) {
          array.push(value());
          skipSpace();
          if (text[at] === ',') at += 1;
          else if (text[at] === ']') {
            at += 1;
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

module.exports = { parse, stringify, JsonSyntaxError };
