'use strict';
// One SQLite database (SQLite compiled to WebAssembly by sql.js) kept in memory and
// written whole to its file at every commit that changed it: the new image goes to a
// temporary file, is synced, and replaces the old one by rename, so the file on disk
// is always the last committed state.

const fs = require('node:fs');
const path = require('node:path');
const { MIGRATIONS, HISTORY_TABLE } = require('./schema');
const { StoreError, constraint, storageFailed, validation } = require('./values');

/** sql.js, loaded so that text read back keeps a leading U+FEFF: sql.js decodes text with
 * a TextDecoder made as it loads, and a TextDecoder by default drops a byte-order mark. */
async function loadSqlJs() {
  const initSqlJs = require('sql.js');
  const Decoder = globalThis.TextDecoder;
  globalThis.TextDecoder = class extends Decoder {
    constructor(label, options) {
      super(label, { ignoreBOM: true, ...options });
    }
  };
  try {
    return await initSqlJs();
  } finally {
    globalThis.TextDecoder = Decoder;
  }
}

const CONSTRAINT_MESSAGES = [
  ['FOREIGN KEY constraint failed', 'FOREIGN_KEY'],
  ['UNIQUE constraint failed', 'UNIQUE'],
  ['CHECK constraint failed', 'CHECK'],
  ['NOT NULL constraint failed', 'NOT_NULL'],
];
const CORRUPT_MESSAGES = ['database disk image is malformed', 'file is not a database'];

/** sql.js binds a BigInt as text: integers that a double holds exactly go as numbers. */
function bindable(value) {
  if (typeof value === 'bigint') {
    return value >= BigInt(Number.MIN_SAFE_INTEGER) && value <= BigInt(Number.MAX_SAFE_INTEGER)
      ? Number(value) : value;
  }
  if (typeof value === 'boolean') return value ? 1 : 0;
  return value;
}

function bindAll(params) {
  if (Array.isArray(params)) return params.map(bindable);
  const named = {};
  for (const [name, value] of Object.entries(params)) named[`:${name}`] = bindable(value);
  return named;
}

class Database {
  constructor(SQL, location, operation) {
    this.SQL = SQL;
    this.location = location;
    this.operation = operation;
    this.depth = 0;
    this.changed = false;
    this.statements = new Map();
    this.db = this.load();
  }

  load() {
    let stat = null;
    try {
      stat = fs.statSync(this.location);
    } catch (error) {
      if (error.code !== 'ENOENT') throw storageFailed(this.operation, 'CANNOT_OPEN', `${this.location}: ${error.message}`);
      if (!fs.existsSync(path.dirname(this.location))) {
        throw storageFailed(this.operation, 'CANNOT_OPEN', `${this.location}: no such directory`);
      }
    }
    if (stat !== null && !stat.isFile()) {
      throw storageFailed(this.operation, 'CANNOT_OPEN', `${this.location} is not a file`);
    }
    const image = stat === null || stat.size === 0 ? undefined : fs.readFileSync(this.location);
    const db = new this.SQL.Database(image);
    try {
      db.exec('SELECT count(*) FROM sqlite_master');
      db.run('PRAGMA foreign_keys = ON');
    } catch (error) {
      db.close();
      throw storageFailed(this.operation, 'CORRUPT', `${this.location}: ${error.message}`);
    }
    return db;
  }

  // -- statements --------------------------------------------------------------------

  prepared(sql) {
    let statement = this.statements.get(sql);
    if (statement === undefined) {
      statement = this.db.prepare(sql);
      this.statements.set(sql, statement);
    }
    return statement;
  }

  /** Every row of one statement, integers as BigInt. */
  all(sql, params = []) {
    return this.guarded(() => {
      const statement = this.prepared(sql);
      try {
        statement.bind(bindAll(params));
        const rows = [];
        while (statement.step()) rows.push(statement.get(null, { useBigInt: true }));
        return rows;
      } finally {
        statement.reset();
      }
    });
  }

  one(sql, params = []) {
    return this.all(sql, params)[0];
  }

  /** Run a writing statement; the number of rows it changed. */
  run(sql, params = []) {
    this.changed = true;
    return this.guarded(() => {
      const statement = this.prepared(sql);
      try {
        statement.run(bindAll(params));
      } finally {
        statement.reset();
      }
      return this.db.getRowsModified();
    });
  }

  /** SQLite's refusals as the spec's errors. */
  guarded(work) {
    try {
      return work();
    } catch (error) {
      if (error instanceof StoreError) throw error;
      const message = String(error && error.message);
      for (const [prefix, kind] of CONSTRAINT_MESSAGES) {
        if (message.includes(prefix)) throw constraint(this.operation, kind, message);
      }
      if (message.includes('cannot store')) throw validation(this.operation, message);
      if (CORRUPT_MESSAGES.some((text) => message.includes(text))) {
        throw storageFailed(this.operation, 'CORRUPT', message);
      }
      throw error;
    }
  }

  // -- transactions ------------------------------------------------------------------

  begin() {
    this.db.run(this.depth === 0 ? 'BEGIN IMMEDIATE' : `SAVEPOINT level_${this.depth}`);
    this.depth += 1;
  }

  commit() {
    this.depth -= 1;
    if (this.depth > 0) {
      this.db.run(`RELEASE level_${this.depth}`);
      return;
    }
    this.db.run('COMMIT');
    if (this.changed) this.persist();
    this.changed = false;
  }

  rollback() {
    this.depth -= 1;
    if (this.depth > 0) {
      this.db.run(`ROLLBACK TO level_${this.depth}`);
      this.db.run(`RELEASE level_${this.depth}`);
      return;
    }
    this.db.run('ROLLBACK');
    this.changed = false;
  }

  /** `work()` as one unit: a transaction, or a savepoint inside a caller's block. */
  atomically(work) {
    this.begin();
    let result;
    try {
      result = work();
    } catch (error) {
      this.rollback();
      throw error;
    }
    this.commit();
    return result;
  }

  persist() {
    const image = this.db.export();
    const temporary = `${this.location}.next`;
    try {
      const handle = fs.openSync(temporary, 'w');
      try {
        fs.writeSync(handle, image);
        fs.fsyncSync(handle);
      } finally {
        fs.closeSync(handle);
      }
      fs.renameSync(temporary, this.location);
      const directory = fs.openSync(path.dirname(this.location), 'r');
      try {
        fs.fsyncSync(directory);
      } finally {
        fs.closeSync(directory);
      }
    } catch (error) {
      // The commit did not reach the disk: go back to what did, and say so.
      this.reopen();
      const cause = error.code === 'ENOSPC' ? 'DISK_FULL' : 'IO_ERROR';
      throw storageFailed(this.operation, cause, `${this.location}: ${error.message}`);
    }
  }

  reopen() {
    this.closeStatements();
    this.db.close();
    this.db = this.load();
  }

  closeStatements() {
    for (const statement of this.statements.values()) statement.free();
    this.statements.clear();
  }

  close() {
    this.closeStatements();
    this.db.close();
  }

  // -- schema versions ---------------------------------------------------------------

  schemaVersion() {
    const known = this.db.exec("SELECT 1 FROM sqlite_master WHERE name = 'js_schema_history'");
    if (known.length === 0) {
      const tables = this.db.exec("SELECT count(*) FROM sqlite_master WHERE type = 'table'");
      if (Number(tables[0].values[0][0]) > 0) {
        throw storageFailed(this.operation, 'FOREIGN', `${this.location} holds another application's data`);
      }
      return 0;
    }
    const found = this.one('SELECT max(version) FROM js_schema_history');
    return found[0] === null ? 0 : Number(found[0]);
  }

  history() {
    if (this.schemaVersion() === 0) return [];
    return this.all('SELECT version, name FROM js_schema_history ORDER BY version')
      .map(([version, name]) => ({ version, name }));
  }

  /** Step up or down to `target`, each step one transaction; with `failAfter`, a step
   * stops after that many statements and rolls back. */
  migrate(target, failAfter = null, at = new Date().toISOString()) {
    const known = [0, ...MIGRATIONS.map((step) => step.version)];
    if (!known.includes(target)) throw validation(this.operation, `no schema version ${target}`);
    let current = this.schemaVersion();
    while (current !== target) {
      const up = target > current;
      const step = MIGRATIONS.find((item) => item.version === (up ? current + 1 : current));
      this.atomically(() => {
        this.db.run(HISTORY_TABLE);
        const statements = up ? step.up : step.down;
        statements.forEach((statement, index) => {
          if (failAfter !== null && index >= failAfter) {
            throw new Error(`migration step ${step.version} stopped after ${failAfter} statement(s), as asked`);
          }
          this.db.run(statement);
        });
        if (up) this.run('INSERT INTO js_schema_history (version, name, applied_at) VALUES (?, ?, ?)', [step.version, step.name, at]);
        else this.run('DELETE FROM js_schema_history WHERE version = ?', [step.version]);
      });
      this.closeStatements();
      current = up ? current + 1 : current - 1;
    }
  }
}

module.exports = { Database, MIGRATIONS, bindAll, loadSqlJs };
