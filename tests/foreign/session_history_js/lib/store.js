'use strict';
// The session_history operations.  Every argument is checked first (ValidationError),
// then the addressed record (NotFound), then the schema's own rules, which SQLite
// enforces and lib/database.js names.

const crypto = require('node:crypto');
const { Check, INT64_MAX, conflict, notFound } = require('./values');
const legacy = require('./legacy');

/** The spec's operations, the methods `session_history.<operation>` of the wire, and
 * their named parameters. */
const OPERATIONS = new Map(Object.entries({
  get_or_create_workspace: ['path', 'at'],
  get_workspace: ['workspace_id'],
  touch_workspace: ['workspace_id', 'at'],
  delete_workspace: ['workspace_id'],
  create_session: ['new'],
  get_session: ['session_id'],
  update_session: ['session_id', 'update'],
  complete_session: ['session_id', 'status', 'at'],
  record_instance_stats: ['session_id', 'files_changed', 'lines_added', 'lines_deleted'],
  delete_session: ['session_id'],
  search_sessions: ['query', 'limit', 'after'],
  add_instance: ['session_id', 'new'],
  update_instance: ['session_id', 'instance_id', 'update'],
  list_instances: ['session_id'],
  append_message: ['session_id', 'new'],
  list_messages: ['session_id'],
  session_summary: ['session_id'],
  import_legacy: ['document', 'backup_path', 'at'],
  migration_metadata: [],
}));

const SESSION_COLUMNS = 'id, workspace_id, type, task, status, created_at, updated_at, completed_at, model, '
  + 'timeout_seconds, preserve_worktrees, winner_id, total_duration, total_files_changed, '
  + 'total_lines_added, total_lines_deleted';
const INSTANCE_COLUMNS = 'id, session_id, instance_id, worktree_path, branch, agent_name, status, '
  + 'tmux_session_id, output, start_time, end_time, files_changed, lines_added, lines_deleted, runtime, '
  + 'model, runtime_label';
const WORKSPACE_COLUMNS = 'id, workspace_path, workspace_hash, created_at, last_accessed_at';
const FINAL_STATUSES = ['completed', 'failed'];
const SESSION_STATUSES = ['running', 'completed', 'failed', 'paused'];
const SESSION_TYPES = ['competition', 'ensemble', 'debate'];
const MAX_STAT = 2n ** 31n - 1n;

const NEW_INSTANCE_FIELDS = ['instance_id', 'worktree_path', 'branch', 'agent_name', 'status', 'tmux_session_id',
  'output', 'start_time', 'end_time', 'files_changed', 'lines_added', 'lines_deleted', 'runtime', 'model',
  'runtime_label'];
const NEW_MESSAGE_FIELDS = ['id', 'role', 'content', 'timestamp', 'instance_id'];
const NEW_SESSION_FIELDS = ['id', 'workspace_id', 'type', 'task', 'status', 'created_at', 'model',
  'timeout_seconds', 'preserve_worktrees', 'runtime_mix', 'instances', 'messages'];
const SESSION_UPDATE_FIELDS = ['updated_at', 'task', 'status', 'model', 'timeout_seconds', 'preserve_worktrees',
  'winner_id', 'total_duration', 'runtime_mix', 'instance_statuses'];
const INSTANCE_UPDATE_FIELDS = ['status', 'output', 'end_time', 'files_changed', 'lines_added', 'lines_deleted'];
const QUERY_FIELDS = ['workspace_id', 'status', 'type', 'created_from', 'created_to', 'text'];
const SEQUENCES = { runtime_mix: [], instances: [], messages: [], instance_statuses: [] };

// Each search filter is a fixed fragment with a named parameter; only the choice of
// fragments varies with the query, never the text of a value.
const SEARCH_FILTERS = [
  ['workspace_id', 'workspace_id = :workspace_id'],
  ['status', 'status = :status'],
  ['type', 'type = :type'],
  ['created_from', 'created_at >= :created_from'],
  ['created_to', 'created_at < :created_to'],
  ['text', 'instr(task, :text) > 0'],
  ['after_created', '(created_at, id) < (:after_created, :after_id)'],
];

/** The spec orders text by code point; JavaScript's default sort is by UTF-16 unit. */
const byCodePoint = (a, b) => Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));

const workspaceRecord = (row) => ({
  id: row[0], path: row[1], hash: row[2], created_at: row[3], last_accessed_at: row[4],
});

const instanceRecord = (row) => ({
  row_id: row[0], session_id: row[1], instance_id: row[2], worktree_path: row[3], branch: row[4],
  agent_name: row[5], status: row[6], tmux_session_id: row[7], output: row[8], start_time: row[9],
  end_time: row[10], files_changed: row[11], lines_added: row[12], lines_deleted: row[13],
  runtime: row[14], model: row[15], runtime_label: row[16],
});

const messageRecord = (row) => ({
  id: row[0], session_id: row[1], role: row[2], content: row[3], timestamp: row[4], instance_id: row[5],
});

function sessionRecord(row, runtimeMix) {
  return {
    id: row[0], workspace_id: row[1], type: row[2], task: row[3], status: row[4], created_at: row[5],
    updated_at: row[6], completed_at: row[7], model: row[8], timeout_seconds: row[9],
    preserve_worktrees: row[10] === null ? null : row[10] !== 0n, winner_id: row[11], total_duration: row[12],
    total_files_changed: row[13], total_lines_added: row[14], total_lines_deleted: row[15],
    runtime_mix: runtimeMix,
  };
}

class SessionHistory {
  constructor(database, mutants) {
    this.db = database;
    this.mutants = mutants;
  }

  check(operation) {
    this.db.operation = operation;
    return new Check(operation, { millisecondInstants: this.mutants.has('millisecond-instants') });
  }

  // -- argument records ----------------------------------------------------------------

  newInstance(v, value, name = 'new') {
    const raw = v.record(name, value, NEW_INSTANCE_FIELDS);
    const out = { instance_id: v.integer(`${name}.instance_id`, raw.instance_id) };
    for (const field of ['worktree_path', 'branch', 'agent_name', 'status', 'tmux_session_id']) {
      out[field] = v.text(`${name}.${field}`, raw[field]);
    }
    for (const field of ['output', 'runtime', 'model', 'runtime_label']) {
      out[field] = v.optionalText(`${name}.${field}`, raw[field]);
    }
    for (const field of ['files_changed', 'lines_added', 'lines_deleted']) {
      out[field] = v.optionalInteger(`${name}.${field}`, raw[field]);
    }
    out.start_time = v.optionalInstant(`${name}.start_time`, raw.start_time);
    out.end_time = v.optionalInstant(`${name}.end_time`, raw.end_time);
    return out;
  }

  newMessage(v, value, name = 'new') {
    const raw = v.record(name, value, NEW_MESSAGE_FIELDS);
    return {
      id: v.text(`${name}.id`, raw.id),
      role: v.text(`${name}.role`, raw.role),
      content: v.text(`${name}.content`, raw.content),
      timestamp: v.instant(`${name}.timestamp`, raw.timestamp),
      instance_id: v.optionalInteger(`${name}.instance_id`, raw.instance_id),
    };
  }

  newSession(v, value, name = 'new') {
    const raw = v.record(name, value, NEW_SESSION_FIELDS, SEQUENCES);
    return {
      id: v.text(`${name}.id`, raw.id),
      workspace_id: v.integer(`${name}.workspace_id`, raw.workspace_id),
      type: v.text(`${name}.type`, raw.type),
      task: v.text(`${name}.task`, raw.task),
      status: v.text(`${name}.status`, raw.status),
      created_at: v.instant(`${name}.created_at`, raw.created_at),
      model: v.optionalText(`${name}.model`, raw.model),
      timeout_seconds: v.optionalInteger(`${name}.timeout_seconds`, raw.timeout_seconds),
      preserve_worktrees: v.flag(`${name}.preserve_worktrees`, raw.preserve_worktrees),
      runtime_mix: v.list(`${name}.runtime_mix`, raw.runtime_mix, (label, item) => v.text(label, item)),
      instances: v.list(`${name}.instances`, raw.instances, (label, item) => this.newInstance(v, item, label)),
      messages: v.list(`${name}.messages`, raw.messages, (label, item) => this.newMessage(v, item, label)),
    };
  }

  // -- workspaces ----------------------------------------------------------------------

  get_or_create_workspace({ path, at }) {
    const v = this.check('get_or_create_workspace');
    path = v.text('path', path);
    const stamp = v.instant('at', at);
    return this.db.atomically(() => this.workspaceFor(path, stamp));
  }

  workspaceFor(path, stamp) {
    const hash = crypto.createHash('sha256').update(path, 'utf8').digest('hex');
    this.db.run(
      'INSERT INTO workspaces (workspace_path, workspace_hash, created_at, last_accessed_at) VALUES (?, ?, ?, ?) '
      + 'ON CONFLICT (workspace_path) DO UPDATE SET last_accessed_at = excluded.last_accessed_at',
      [path, hash, stamp, stamp],
    );
    return workspaceRecord(this.db.one(`SELECT ${WORKSPACE_COLUMNS} FROM workspaces WHERE workspace_path = ?`, [path]));
  }

  get_workspace({ workspace_id: id }) {
    this.check('get_workspace').integer('workspace_id', id);
    return this.workspace(id);
  }

  workspace(id) {
    const row = this.db.one(`SELECT ${WORKSPACE_COLUMNS} FROM workspaces WHERE id = ?`, [id]);
    if (row === undefined) throw notFound(this.db.operation, `no such workspace: ${id}`);
    return workspaceRecord(row);
  }

  touch_workspace({ workspace_id: id, at }) {
    const v = this.check('touch_workspace');
    v.integer('workspace_id', id);
    const stamp = v.instant('at', at);
    return this.db.atomically(() => {
      this.db.run('UPDATE workspaces SET last_accessed_at = ? WHERE id = ?', [stamp, id]);
      return this.workspace(id);
    });
  }

  delete_workspace({ workspace_id: id }) {
    this.check('delete_workspace').integer('workspace_id', id);
    this.db.atomically(() => {
      if (this.db.run('DELETE FROM workspaces WHERE id = ?', [id]) === 0) {
        throw notFound('delete_workspace', `no such workspace: ${id}`);
      }
    });
    return null;
  }

  // -- sessions ------------------------------------------------------------------------

  create_session({ new: value }) {
    const v = this.check('create_session');
    const fresh = this.newSession(v, value);
    return this.db.atomically(() => {
      this.insertSession(fresh, { updatedAt: fresh.created_at });
      return this.session(fresh.id);
    });
  }

  insertSession(fresh, { updatedAt, completedAt = null, winnerId = null, totals = [null, null, null, null] }) {
    this.db.run(
      'INSERT INTO sessions (id, workspace_id, type, task, status, created_at, updated_at, completed_at, model, '
      + 'timeout_seconds, preserve_worktrees, winner_id, total_duration, total_files_changed, total_lines_added, '
      + 'total_lines_deleted) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)',
      [fresh.id, fresh.workspace_id, fresh.type, fresh.task, fresh.status, fresh.created_at, updatedAt, completedAt,
        fresh.model, fresh.timeout_seconds, fresh.preserve_worktrees, winnerId, ...totals],
    );
    for (const runtime of [...new Set(fresh.runtime_mix)].sort(byCodePoint)) {
      this.db.run('INSERT INTO session_runtime_mix (session_id, runtime) VALUES (?, ?)', [fresh.id, runtime]);
    }
    for (const instance of fresh.instances) this.insertInstance(fresh.id, instance);
    for (const message of fresh.messages) this.insertMessage(fresh.id, message);
  }

  runtimeMix(sessionId) {
    const runtimes = this.db.all('SELECT runtime FROM session_runtime_mix WHERE session_id = ?', [sessionId])
      .map((row) => row[0]);
    return this.mutants.has('utf16-order') ? runtimes.sort() : runtimes.sort(byCodePoint);
  }

  session(sessionId) {
    const row = this.db.one(`SELECT ${SESSION_COLUMNS} FROM sessions WHERE id = ?`, [sessionId]);
    if (row === undefined) throw notFound(this.db.operation, `no such session: ${JSON.stringify(sessionId)}`);
    return sessionRecord(row, this.runtimeMix(sessionId));
  }

  requireSession(sessionId) {
    const row = this.db.one('SELECT status FROM sessions WHERE id = ?', [sessionId]);
    if (row === undefined) throw notFound(this.db.operation, `no such session: ${JSON.stringify(sessionId)}`);
    return row[0];
  }

  get_session({ session_id: id }) {
    this.check('get_session').text('session_id', id);
    return this.session(id);
  }

  update_session({ session_id: id, update }) {
    const v = this.check('update_session');
    v.text('session_id', id);
    const raw = v.record('update', update, SESSION_UPDATE_FIELDS, { instance_statuses: [] });
    const change = {
      updated_at: v.instant('update.updated_at', raw.updated_at),
      task: v.optionalText('update.task', raw.task),
      status: v.optionalText('update.status', raw.status),
      model: v.optionalText('update.model', raw.model),
      timeout_seconds: v.optionalInteger('update.timeout_seconds', raw.timeout_seconds),
      preserve_worktrees: v.flag('update.preserve_worktrees', raw.preserve_worktrees),
      winner_id: v.optionalInteger('update.winner_id', raw.winner_id),
      total_duration: v.optionalInteger('update.total_duration', raw.total_duration),
      runtime_mix: raw.runtime_mix === null ? null
        : v.list('update.runtime_mix', raw.runtime_mix, (label, item) => v.text(label, item)),
      instance_statuses: v.list('update.instance_statuses', raw.instance_statuses, (label, item) => {
        if (!Array.isArray(item) || item.length !== 2) throw v.fail(`${label} must be a pair`, item);
        return [v.integer(`${label}.instance_id`, item[0]), v.text(`${label}.status`, item[1])];
      }),
    };
    return this.db.atomically(() => {
      this.requireSession(id);
      this.db.run(
        'UPDATE sessions SET updated_at = ?, task = COALESCE(?, task), status = COALESCE(?, status), '
        + 'model = COALESCE(?, model), timeout_seconds = COALESCE(?, timeout_seconds), '
        + 'preserve_worktrees = COALESCE(?, preserve_worktrees), winner_id = COALESCE(?, winner_id), '
        + 'total_duration = COALESCE(?, total_duration) WHERE id = ?',
        [change.updated_at, change.task, change.status, change.model, change.timeout_seconds,
          change.preserve_worktrees, change.winner_id, change.total_duration, id],
      );
      if (change.runtime_mix !== null) this.replaceRuntimeMix(id, change.runtime_mix);
      for (const [instanceId, status] of change.instance_statuses) {
        const changed = this.db.run('UPDATE instances SET status = ? WHERE session_id = ? AND instance_id = ?',
          [status, id, instanceId]);
        if (changed === 0) throw notFound('update_session', `no such instance: ${instanceId}`);
      }
      return this.session(id);
    });
  }

  /** Delete only the runtimes that left and insert only the new ones. */
  replaceRuntimeMix(sessionId, mix) {
    const kept = new Set(this.db.all('SELECT runtime FROM session_runtime_mix WHERE session_id = ?', [sessionId])
      .map((row) => row[0]));
    const wanted = new Set(mix);
    for (const runtime of [...kept].filter((item) => !wanted.has(item))) {
      this.db.run('DELETE FROM session_runtime_mix WHERE session_id = ? AND runtime = ?', [sessionId, runtime]);
    }
    for (const runtime of [...wanted].filter((item) => !kept.has(item)).sort(byCodePoint)) {
      this.db.run('INSERT INTO session_runtime_mix (session_id, runtime) VALUES (?, ?)', [sessionId, runtime]);
    }
  }

  complete_session({ session_id: id, status, at }) {
    const v = this.check('complete_session');
    v.text('session_id', id);
    v.oneOf('status', status, FINAL_STATUSES);
    const stamp = v.instant('at', at);
    return this.db.atomically(() => {
      const changed = this.db.run(
        "UPDATE sessions SET status = ?, completed_at = ?, updated_at = ? WHERE id = ? AND status NOT IN ('completed', 'failed')",
        [status, stamp, stamp, id],
      );
      if (changed === 0) {
        const current = this.requireSession(id);
        throw conflict('complete_session', `session is already ${current}`);
      }
      return this.session(id);
    });
  }

  record_instance_stats({ session_id: id, files_changed: files, lines_added: added, lines_deleted: deleted }) {
    const v = this.check('record_instance_stats');
    v.text('session_id', id);
    const values = [v.integer('files_changed', files), v.integer('lines_added', added),
      v.integer('lines_deleted', deleted)];
    if (values.some((value) => value < 0n || value > MAX_STAT)) {
      throw v.fail(`stats must be between 0 and ${MAX_STAT}`, values);
    }
    const overflow = () => v.fail(`the session's totals would pass ${INT64_MAX} with these stats`, values);
    return this.db.atomically(() => {
      if (this.mutants.has('stats-as-numbers')) {
        // Read, add in JavaScript numbers, write back: exact only below 2**53.
        const row = this.db.one('SELECT total_files_changed, total_lines_added, total_lines_deleted FROM sessions WHERE id = ?', [id]);
        if (row === undefined) return this.session(id);
        const sums = row.map((total, index) => Number(total ?? 0n) + Number(values[index]));
        if (sums.some((sum) => sum > Number(INT64_MAX))) throw overflow();
        this.db.run('UPDATE sessions SET total_files_changed = ?, total_lines_added = ?, total_lines_deleted = ? WHERE id = ?',
          [...sums.map((sum) => BigInt(sum)), id]);
        return this.session(id);
      }
      // One UPDATE reads and writes the totals, guarded so that no total passes 64 bits.
      const changed = this.db.run(
        'UPDATE sessions SET total_files_changed = COALESCE(total_files_changed, 0) + ?, '
        + 'total_lines_added = COALESCE(total_lines_added, 0) + ?, '
        + 'total_lines_deleted = COALESCE(total_lines_deleted, 0) + ? WHERE id = ? '
        + 'AND COALESCE(total_files_changed, 0) <= 9223372036854775807 - ? '
        + 'AND COALESCE(total_lines_added, 0) <= 9223372036854775807 - ? '
        + 'AND COALESCE(total_lines_deleted, 0) <= 9223372036854775807 - ?',
        [...values, id, ...values],
      );
      const session = this.session(id);
      if (changed === 0) throw overflow();
      return session;
    });
  }

  delete_session({ session_id: id }) {
    this.check('delete_session').text('session_id', id);
    this.db.atomically(() => {
      if (this.db.run('DELETE FROM sessions WHERE id = ?', [id]) === 0) {
        throw notFound('delete_session', `no such session: ${JSON.stringify(id)}`);
      }
    });
    return null;
  }

  search_sessions({ query, limit, after = null }) {
    const v = this.check('search_sessions');
    const raw = v.record('query', query, QUERY_FIELDS);
    const params = {
      workspace_id: v.optionalInteger('query.workspace_id', raw.workspace_id),
      status: raw.status === null ? null : v.oneOf('query.status', raw.status, SESSION_STATUSES),
      type: raw.type === null ? null : v.oneOf('query.type', raw.type, SESSION_TYPES),
      created_from: v.optionalInstant('query.created_from', raw.created_from),
      created_to: v.optionalInstant('query.created_to', raw.created_to),
      text: v.optionalText('query.text', raw.text),
    };
    const rowLimit = v.limit(limit);
    if (after !== null) {
      const cursor = v.record('after', after, ['created_at', 'id']);
      params.after_created = v.instant('after.created_at', cursor.created_at);
      params.after_id = v.text('after.id', cursor.id);
    }
    const present = SEARCH_FILTERS.filter(([name]) => params[name] !== null && params[name] !== undefined);
    const bound = { row_limit: rowLimit + 1 };
    for (const [name] of present) bound[name] = params[name];
    if (params.after_created !== undefined) bound.after_id = params.after_id;
    const where = present.map(([, fragment]) => fragment).join(' AND ') || '1';
    const found = this.db.all(
      `SELECT ${SESSION_COLUMNS} FROM sessions WHERE ${where} ORDER BY created_at DESC, id DESC LIMIT :row_limit`,
      bound,
    );
    const items = found.slice(0, rowLimit).map((row) => sessionRecord(row, this.runtimeMix(row[0])));
    const more = found.length > rowLimit;
    const last = items[items.length - 1];
    return { items, next_cursor: more && last ? { created_at: last.created_at, id: last.id } : null };
  }

  session_summary({ session_id: id }) {
    this.check('session_summary').text('session_id', id);
    const session = this.session(id);
    const [path, instances, messages] = this.db.one(
      'SELECT workspace_path, instance_count, message_count FROM session_complete WHERE id = ?', [id]);
    return { session, workspace_path: path, instance_count: instances, message_count: messages };
  }

  // -- instances and messages ----------------------------------------------------------

  add_instance({ session_id: id, new: value }) {
    const v = this.check('add_instance');
    v.text('session_id', id);
    const fresh = this.newInstance(v, value);
    return this.db.atomically(() => {
      const rowId = this.insertInstance(id, fresh);
      return instanceRecord(this.db.one(`SELECT ${INSTANCE_COLUMNS} FROM instances WHERE id = ?`, [rowId]));
    });
  }

  insertInstance(sessionId, fresh) {
    this.db.run(
      'INSERT INTO instances (session_id, instance_id, worktree_path, branch, agent_name, status, tmux_session_id, '
      + 'output, start_time, end_time, files_changed, lines_added, lines_deleted, runtime, model, runtime_label) '
      + 'VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)',
      [sessionId, fresh.instance_id, fresh.worktree_path, fresh.branch, fresh.agent_name, fresh.status,
        fresh.tmux_session_id, fresh.output, fresh.start_time, fresh.end_time, fresh.files_changed,
        fresh.lines_added, fresh.lines_deleted, fresh.runtime, fresh.model, fresh.runtime_label],
    );
    return this.db.one('SELECT last_insert_rowid()')[0];
  }

  update_instance({ session_id: id, instance_id: instanceId, update }) {
    const v = this.check('update_instance');
    v.text('session_id', id);
    v.integer('instance_id', instanceId);
    const raw = v.record('update', update, INSTANCE_UPDATE_FIELDS);
    const change = [
      v.optionalText('update.status', raw.status),
      v.optionalText('update.output', raw.output),
      v.optionalInstant('update.end_time', raw.end_time),
      v.optionalInteger('update.files_changed', raw.files_changed),
      v.optionalInteger('update.lines_added', raw.lines_added),
      v.optionalInteger('update.lines_deleted', raw.lines_deleted),
    ];
    return this.db.atomically(() => {
      const changed = this.db.run(
        'UPDATE instances SET status = COALESCE(?, status), output = COALESCE(?, output), '
        + 'end_time = COALESCE(?, end_time), files_changed = COALESCE(?, files_changed), '
        + 'lines_added = COALESCE(?, lines_added), lines_deleted = COALESCE(?, lines_deleted) '
        + 'WHERE session_id = ? AND instance_id = ?',
        [...change, id, instanceId],
      );
      if (changed === 0) throw notFound('update_instance', `no such instance: ${instanceId}`);
      return instanceRecord(this.db.one(
        `SELECT ${INSTANCE_COLUMNS} FROM instances WHERE session_id = ? AND instance_id = ?`, [id, instanceId]));
    });
  }

  list_instances({ session_id: id }) {
    this.check('list_instances').text('session_id', id);
    this.requireSession(id);
    return this.db.all(`SELECT ${INSTANCE_COLUMNS} FROM instances WHERE session_id = ? ORDER BY instance_id`, [id])
      .map(instanceRecord);
  }

  append_message({ session_id: id, new: value }) {
    const v = this.check('append_message');
    v.text('session_id', id);
    const message = this.newMessage(v, value);
    this.db.atomically(() => this.insertMessage(id, message));
    return { ...message, session_id: id };
  }

  insertMessage(sessionId, message) {
    this.db.run(
      'INSERT INTO chat_messages (id, session_id, role, content, timestamp, instance_id) VALUES (?, ?, ?, ?, ?, ?)',
      [message.id, sessionId, message.role, message.content, message.timestamp, message.instance_id],
    );
  }

  list_messages({ session_id: id }) {
    this.check('list_messages').text('session_id', id);
    this.requireSession(id);
    return this.db.all(
      'SELECT id, session_id, role, content, timestamp, instance_id FROM chat_messages WHERE session_id = ? '
      + 'ORDER BY timestamp, rowid', [id],
    ).map(messageRecord);
  }

  // -- legacy import and metadata ------------------------------------------------------

  import_legacy({ document, backup_path: backupPath, at }) {
    const v = this.check('import_legacy');
    backupPath = v.text('backup_path', backupPath);
    const stamp = v.instant('at', at);
    const parsed = legacy.parse(v, document);
    let imported = 0;
    let skipped = 0;
    this.db.atomically(() => {
      for (const item of parsed) {
        if (this.db.one('SELECT 1 FROM sessions WHERE id = ?', [item.session.id]) !== undefined) {
          skipped += 1;
          continue;
        }
        const workspace = this.workspaceFor(item.workspacePath, stamp);
        this.insertSession({ ...item.session, workspace_id: workspace.id }, {
          updatedAt: item.updatedAt, completedAt: item.completedAt, winnerId: item.winnerId, totals: item.totals,
        });
        imported += 1;
      }
      this.db.run(
        "UPDATE migration_metadata SET migration_status = 'completed', json_backup_path = ?, migrated_at = ?, "
        + 'last_updated_at = ? WHERE id = 1', [backupPath, stamp, stamp]);
    });
    return { imported, skipped };
  }

  migration_metadata() {
    this.check('migration_metadata');
    const [version, status, backupPath, migratedAt] = this.db.one(
      'SELECT schema_version, migration_status, json_backup_path, migrated_at FROM migration_metadata WHERE id = 1');
    return {
      schema_version: version, migration_status: status, json_backup_path: backupPath,
      migrated_at: status === 'pending' ? null : migratedAt,
    };
  }
}

module.exports = { SessionHistory, OPERATIONS };
