'use strict';
// The legacy JSON document of import_legacy:
// {"workspaces": [{"path": str, "sessions": [session, ...]}, ...]}.  Anything else is a
// ValidationError naming the JSON path.

const json = require('./json');
const { isObject } = require('./values');

const SESSION_KEYS = new Set(['id', 'type', 'task', 'status', 'created_at', 'updated_at', 'completed_at', 'model',
  'timeout_seconds', 'preserve_worktrees', 'winner_id', 'total_duration', 'total_files_changed',
  'total_lines_added', 'total_lines_deleted', 'runtime_mix', 'instances', 'chat_history']);
const TOTALS = ['total_duration', 'total_files_changed', 'total_lines_added', 'total_lines_deleted'];

const member = (object, key) => (key in object ? object[key] : null);

/** A missing member, null, false, 0, "" and an empty list or object all read as "none". */
function orEmpty(value) {
  const empty = value === null || value === false || value === 0n || value === 0 || value === ''
    || (Array.isArray(value) && value.length === 0) || (isObject(value) && Object.keys(value).length === 0);
  return empty ? [] : value;
}

function required(v, object, key, isKind, kindName, where) {
  if (!isObject(object)) throw v.fail(`${where} must be an object`, object);
  const value = member(object, key);
  if (!isKind(value)) throw v.fail(`${where}.${key} must be a ${kindName}`, value);
  return value;
}

function listOfObjects(v, raw, key, where) {
  const items = orEmpty(member(raw, key));
  if (!Array.isArray(items) || !items.every(isObject)) throw v.fail(`${where}.${key} must be a list of objects`, items);
  return items;
}

function session(v, path, raw, where) {
  if (!isObject(raw)) throw v.fail(`${where} must be an object`, raw);
  const unknown = Object.keys(raw).filter((key) => !SESSION_KEYS.has(key)).sort();
  if (unknown.length > 0) throw v.fail(`${where} has unknown fields`, unknown);
  const instances = listOfObjects(v, raw, 'instances', where).map((item, index) => {
    const at = `${where}.instances[${index}]`;
    return {
      instance_id: v.integer(`${at}.instance_id`, member(item, 'instance_id')),
      worktree_path: v.text(`${at}.worktree_path`, member(item, 'worktree_path')),
      branch: v.text(`${at}.branch`, member(item, 'branch')),
      agent_name: v.text(`${at}.agent_name`, member(item, 'agent_name')),
      status: v.text(`${at}.status`, member(item, 'status')),
      tmux_session_id: v.text(`${at}.tmux_session_id`, member(item, 'tmux_session_id')),
      output: v.optionalText(`${at}.output`, member(item, 'output')),
      start_time: null,
      end_time: null,
      files_changed: null,
      lines_added: null,
      lines_deleted: null,
      runtime: null,
      model: null,
      runtime_label: null,
    };
  });
  const messages = listOfObjects(v, raw, 'chat_history', where).map((item, index) => {
    const at = `${where}.chat_history[${index}]`;
    return {
      id: v.text(`${at}.id`, member(item, 'id')),
      role: v.text(`${at}.role`, member(item, 'role')),
      content: v.text(`${at}.content`, member(item, 'content')),
      timestamp: v.instant(`${at}.timestamp`, member(item, 'timestamp')),
      instance_id: v.optionalInteger(`${at}.instance_id`, member(item, 'instance_id')),
    };
  });
  const mix = orEmpty(member(raw, 'runtime_mix'));
  if (!Array.isArray(mix)) throw v.fail(`${where}.runtime_mix must be a list`, mix);
  const fresh = {
    id: v.text(`${where}.id`, member(raw, 'id')),
    workspace_id: 0n,
    type: v.text(`${where}.type`, member(raw, 'type')),
    task: v.text(`${where}.task`, member(raw, 'task')),
    status: v.text(`${where}.status`, member(raw, 'status')),
    created_at: v.instant(`${where}.created_at`, member(raw, 'created_at')),
    model: v.optionalText(`${where}.model`, member(raw, 'model')),
    timeout_seconds: v.optionalInteger(`${where}.timeout_seconds`, member(raw, 'timeout_seconds')),
    preserve_worktrees: v.flag(`${where}.preserve_worktrees`, member(raw, 'preserve_worktrees')),
    runtime_mix: mix.map((item) => v.text(`${where}.runtime_mix[]`, item)),
    instances,
    messages,
  };
  return {
    workspacePath: path,
    session: fresh,
    totals: TOTALS.map((name) => v.optionalInteger(`${where}.${name}`, member(raw, name))),
    updatedAt: v.instant(`${where}.updated_at`, member(raw, 'updated_at')),
    completedAt: v.optionalInstant(`${where}.completed_at`, member(raw, 'completed_at')),
    winnerId: v.optionalInteger(`${where}.winner_id`, member(raw, 'winner_id')),
  };
}

function parse(v, document) {
  try {
    return parseDocument(v, document);
  } catch (error) {
    // JSON nested deeper than the stack (the parser and the checks recurse): a refusal,
    // not the process's RangeError.
    if (error instanceof RangeError) throw v.fail('document is not JSON this store can read: nested too deeply');
    throw error;
  }
}

function parseDocument(v, document) {
  if (typeof document !== 'string') throw v.fail('document is not JSON: it must be a string', document);
  let root;
  try {
    root = json.parse(document);
  } catch (error) {
    throw v.fail(`document is not JSON: ${error.message}`);
  }
  const isList = Array.isArray;
  const parsed = [];
  required(v, root, 'workspaces', isList, 'list', '$').forEach((workspace, wIndex) => {
    const where = `$.workspaces[${wIndex}]`;
    const path = v.text(`${where}.path`, required(v, workspace, 'path', (x) => typeof x === 'string', 'str', where));
    required(v, workspace, 'sessions', isList, 'list', where).forEach((raw, sIndex) => {
      parsed.push(session(v, path, raw, `${where}.sessions[${sIndex}]`));
    });
  });
  return parsed;
}

module.exports = { parse };
