#!/usr/bin/env node
'use strict';
// A session_history store in JavaScript, speaking storecheck's wire protocol: JSON-RPC 2.0,
// one message per line on stdin and stdout (`storecheck protocol session_history` prints
// the methods).  Check it with
//
//   pytest --store='exec:node tests/foreign/session_history_js/server.js' --store-spec=session_history
//
// `--mutant=NAME` (NAME from MUTANTS below) breaks it on purpose, to show the checks
// catch that bug.
//
// One process serves one store, on one thread.  Requests carry the harness thread that
// sent them; while one thread's atomic() block is open, the other threads' requests
// wait in arrival order until it ends, so a block sees only its own writes.

const readline = require('node:readline');
const json = require('./lib/json');
const { Database, MIGRATIONS, bindAll, loadSqlJs } = require('./lib/database');
const { SessionHistory, OPERATIONS } = require('./lib/store');
const { StoreError } = require('./lib/values');

const MUTANTS = {
  'millisecond-instants': 'instants kept as JavaScript Dates keep milliseconds, not microseconds',
  'stats-as-numbers': 'record_instance_stats adds in JavaScript numbers, exact only below 2**53',
  'utf16-order': "runtime_mix sorted by JavaScript's default order (UTF-16 units, not code points)",
};
const CAPABILITIES = ['fault_injection', 'migrations', 'sql_introspection', 'transactions'];
const SPEC = 'session_history';
const PREFIX = `${SPEC}.`;

const PARSE_ERROR = -32700;
const INVALID_REQUEST = -32600;
const METHOD_NOT_FOUND = -32601;
const INVALID_PARAMS = -32602;
const INTERNAL_ERROR = -32603;
const STORE_ERROR = -32000;

/** The protocol's own methods and their named parameters. */
const SESSION_PARAMETERS = new Map(Object.entries({
  'storecheck.handshake': [],
  'storecheck.open': ['spec', 'location', 'schema_version'],
  'storecheck.echo': ['value'],
  'store.close': [],
  'store.schema_versions': [],
  'store.schema_version': [],
  'store.migrate': ['target', 'fail_after_statements'],
  'store.migration_history': [],
  'store.schema_ddl': [],
  'store.query': ['sql', 'params'],
  'store.begin': [],
  'store.commit': [],
  'store.rollback': [],
}));

class RequestFailed extends Error {
  constructor(code, message) {
    super(message);
    this.code = code;
  }
}

function chosenMutants(argv) {
  const chosen = new Set();
  for (const argument of argv) {
    const name = argument.startsWith('--mutant=') ? argument.slice('--mutant='.length) : null;
    if (name === null) continue;
    if (!(name in MUTANTS)) {
      process.stderr.write(`unknown mutant ${name}; known: ${Object.keys(MUTANTS).join(', ')}\n`);
      process.exit(2);
    }
    chosen.add(name);
  }
  return chosen;
}

const blob = (bytes) => ({ $bytes: Buffer.from(bytes).toString('base64') });

const isId = (id) => id === undefined || id === null || typeof id === 'string' || typeof id === 'bigint'
  || typeof id === 'number';

/** Why a parsed line is no request this server takes, or null: the protocol's checks of
 * the envelope, before any request is queued behind an open block. */
function malformed(message) {
  if (message === null || typeof message !== 'object' || Array.isArray(message)
      || message.jsonrpc !== '2.0' || typeof message.method !== 'string') {
    return 'not a JSON-RPC 2.0 request';
  }
  if (!isId(message.id)) return 'the id must be a string, a number or null';
  if (message.thread !== undefined && typeof message.thread !== 'bigint') {
    return 'thread must be an integer';
  }
  if (message.params !== undefined && (message.params === null || typeof message.params !== 'object'
      || Array.isArray(message.params))) {
    return 'params must be an object of named parameters';
  }
  return null;
}

function decodedBytes(value) {
  const bytes = json.bytesOf(value);
  if (bytes === null) throw new RequestFailed(INVALID_PARAMS, 'a $bytes value must be base64');
  return bytes;
}

/** A value sent back as it came, its bytes checked as the codec would decode them. */
function echoed(value) {
  if (value === null || typeof value !== 'object') return value;
  if (Array.isArray(value)) return value.map(echoed);
  if (value.$bytes !== undefined) return blob(decodedBytes(value));
  return Object.fromEntries(Object.keys(value).map((key) => [key, echoed(value[key])]));
}

function cell(value) {
  if (value instanceof Uint8Array) return blob(value);
  if (typeof value === 'number' && !Number.isFinite(value)) {
    return Number.isNaN(value) ? 'NaN' : (value > 0 ? 'Infinity' : '-Infinity');
  }
  return value;
}

class Server {
  constructor(SQL, mutants) {
    this.SQL = SQL;
    this.mutants = mutants;
    this.database = null;
    this.store = null;
    this.owner = null;
    this.waiting = [];
  }

  receive(line) {
    let message;
    try {
      message = json.parse(line);
    } catch (error) {
      if (error instanceof json.JsonRefused) {
        this.respond(null, { error: { code: INVALID_REQUEST, message: error.message } });
      } else {
        this.respond(null, { error: { code: PARSE_ERROR, message: `not JSON: ${error.message}` } });
      }
      return;
    }
    const refusal = malformed(message);
    if (refusal !== null) {
      const id = message !== null && typeof message === 'object' && isId(message.id)
        && message.id !== undefined ? message.id : null;
      this.respond(id, { error: { code: INVALID_REQUEST, message: refusal } });
      return;
    }
    if (this.owner !== null && message.thread !== this.owner) {
      this.waiting.push(message);
      return;
    }
    this.handle(message);
    while (this.owner === null && this.waiting.length > 0) {
      const next = this.waiting.findIndex((item) => this.owner === null || item.thread === this.owner);
      if (next < 0) break;
      this.handle(this.waiting.splice(next, 1)[0]);
    }
  }

  handle(message) {
    const id = message.id !== undefined ? message.id : null;
    try {
      this.respond(id, { result: this.execute(message.method, message.params || {}, message.thread) });
    } catch (error) {
      if (error instanceof StoreError) {
        this.respond(id, { error: { code: STORE_ERROR, message: error.message, data: error.data } });
      } else if (error instanceof RequestFailed) {
        this.respond(id, { error: { code: error.code, message: error.message } });
      } else {
        process.stderr.write(`${error && error.stack}\n`);
        this.respond(id, { error: { code: INTERNAL_ERROR, message: String(error && error.message) } });
      }
    }
  }

  respond(id, body) {
    process.stdout.write(`${json.stringify({ jsonrpc: '2.0', id, ...body })}\n`);
  }

  execute(method, params, thread) {
    const known = SESSION_PARAMETERS.get(method)
      || (method.startsWith(PREFIX) ? OPERATIONS.get(method.slice(PREFIX.length)) : undefined);
    const unknown = known === undefined ? undefined : Object.keys(params).find((name) => !known.includes(name));
    if (unknown !== undefined) throw new RequestFailed(INVALID_PARAMS, `${method} has no parameter ${unknown}`);
    switch (method) {
      case 'storecheck.handshake':
        return { protocol: 1n, name: 'session-history-js', specs: [SPEC], capabilities: CAPABILITIES };
      case 'storecheck.echo':
        if (!('value' in params)) throw new RequestFailed(INVALID_PARAMS, 'storecheck.echo needs value');
        return echoed(params.value);
      case 'storecheck.open':
        return this.open(params);
      default:
        break;
    }
    if (this.store === null) throw new RequestFailed(INVALID_REQUEST, `${method} before storecheck.open`);
    if (method.startsWith(PREFIX)) {
      const operation = method.slice(PREFIX.length);
      if (!OPERATIONS.has(operation)) throw new RequestFailed(METHOD_NOT_FOUND, `no method ${method}`);
      return this.store[operation](params);
    }
    return this.storeMethod(method, params, thread);
  }

  open({ spec, location, schema_version: version = null }) {
    if (this.store !== null) throw new RequestFailed(INVALID_REQUEST, 'this process has a store open already');
    if (spec !== SPEC) throw new RequestFailed(INVALID_PARAMS, `no spec ${spec} here`);
    const database = new Database(this.SQL, location, 'open');
    database.migrate(version === null ? MIGRATIONS[MIGRATIONS.length - 1].version : Number(version));
    this.database = database;
    this.store = new SessionHistory(database, this.mutants);
    return { sql_dialect: 'sqlite' };
  }

  storeMethod(method, params, thread) {
    const db = this.database;
    db.operation = method.slice('store.'.length);
    switch (method) {
      case 'store.begin':
        db.begin();
        this.owner = thread;
        return null;
      case 'store.commit':
      case 'store.rollback':
        if (db.depth === 0) throw new RequestFailed(INVALID_REQUEST, `${method} with no open block`);
        try {
          if (method === 'store.commit') db.commit();
          else db.rollback();
        } finally {
          if (db.depth === 0) this.owner = null;
        }
        return null;
      case 'store.close':
        db.close();
        this.store = null;
        this.database = null;
        return null;
      case 'store.schema_versions':
        return MIGRATIONS.map((step) => BigInt(step.version));
      case 'store.schema_version':
        return BigInt(db.schemaVersion());
      case 'store.migration_history':
        return db.history();
      case 'store.migrate': {
        const failAfter = params.fail_after_statements;
        db.migrate(Number(params.target), failAfter === null || failAfter === undefined ? null : Number(failAfter));
        return null;
      }
      case 'store.schema_ddl': {
        const rows = db.all("SELECT name, sql FROM sqlite_master WHERE sql IS NOT NULL AND name NOT LIKE 'sqlite_%' "
          + "AND name <> 'js_schema_history' ORDER BY name");
        return Object.fromEntries(rows);
      }
      case 'store.query':
        return this.query(params.sql, params.params || []);
      default:
        throw new RequestFailed(METHOD_NOT_FOUND, `no method ${method}`);
    }
  }

  /** One read-only statement: run inside a savepoint that is always rolled back. */
  query(sql, params) {
    const db = this.database;
    db.begin();
    try {
      const statement = db.db.prepare(sql);
      try {
        statement.bind(bindAll(params.map((value) => (value && value.$bytes !== undefined
          ? decodedBytes(value) : value))));
        const rows = [];
        while (statement.step()) rows.push(statement.get(null, { useBigInt: true }).map(cell));
        return rows;
      } finally {
        statement.free();
      }
    } finally {
      db.rollback();
    }
  }
}

async function main() {
  const mutants = chosenMutants(process.argv.slice(2));
  const SQL = await loadSqlJs();
  const server = new Server(SQL, mutants);
  const lines = readline.createInterface({ input: process.stdin, crlfDelay: Infinity });
  lines.on('line', (line) => {
    if (line.trim() !== '') server.receive(line);
  });
  lines.on('close', () => {
    if (server.database !== null) server.database.close();
  });
}

main().catch((error) => {
  process.stderr.write(`${error && error.stack}\n`);
  process.exit(1);
});
