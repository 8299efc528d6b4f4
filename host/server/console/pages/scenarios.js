// Scenarios: every version with the live one marked, a drawing of a version's node graph,
// validate / upload / publish / roll back with a reason, a diff of two versions, and the
// history of changes. A refused document lists each problem with its JSON path.
import { h, fill, table, field, badge, saveText } from '../js/dom.js';
import { api } from '../js/api.js';
import { L } from '../js/i18n.js';
import { dateTime } from '../js/fmt.js';
import { drawGraph } from '../js/graph.js';
import { diffLines, hunks } from '../js/diff.js';

function problems(err) {
  const list = err.body && Array.isArray(err.body.problems) ? err.body.problems : [];
  return h('div', { class: 'error', id: 'scenario-problems', role: 'alert' },
    h('strong', {}, L('シナリオに問題があります', 'The scenario has problems')), h('div', {}, err.message),
    list.length ? h('ul', { class: 'problems' }, list.map((p) =>
      h('li', {}, h('code', { class: 'path' }, p.path || '(document)'), ' ', p.severity === 'warning' ? badge(L('警告', 'warning'), 'warn') : null, ' ', p.message))) : null);
}

function warningsOf(res) {
  const w = (res && res.warnings) || [];
  return w.length ? h('ul', { class: 'problems' }, w.map((p) => h('li', {}, h('code', {}, p.path), ' ', p.message))) : null;
}

/// Validate / upload box (list page).
function uploadBox(ctx, onDone) {
  const file = h('input', { type: 'file', id: 'scenario-file', accept: '.json,application/json' });
  const text = h('textarea', { id: 'scenario-text', rows: 10, spellcheck: false, placeholder: L('シナリオの JSON を貼り付けるか、ファイルを選んでください', 'Paste a scenario JSON document or choose a file') });
  const why = h('input', { id: 'scenario-upload-why', size: 40, placeholder: L('変更の理由', 'Why') });
  const publish = h('input', { type: 'checkbox', id: 'scenario-upload-publish' });
  const msg = h('div', { id: 'scenario-upload-result' });
  file.addEventListener('change', async () => { if (file.files[0]) text.value = await file.files[0].text(); });
  const run = async (mode) => {
    fill(msg);
    try {
      if (mode === 'validate') {
        const res = await api('POST', '/scenarios/validate', text.value);
        fill(msg, h('div', { class: 'ok' }, L(`問題はありません (${res.name})`, `Valid (${res.name})`), warningsOf(res)));
      } else {
        if (!why.value.trim()) throw new Error(L('変更の理由を入力してください。', 'Give a reason for the change.'));
        const res = await api('POST', '/scenarios', text.value, { publish: publish.checked ? 'true' : '', why: why.value.trim() });
        fill(msg, h('div', { class: 'ok' }, L(`バージョン ${res.version} として登録しました`, `Uploaded as version ${res.version}`), res.published ? L('(公開済み)', ' (published)') : '', warningsOf(res)));
        onDone(res);
      }
    } catch (e) {
      fill(msg, problems(e));
    }
  };
  return h('div', { class: 'card' }, h('h2', {}, L('シナリオの検証・登録', 'Validate or upload a scenario')),
    h('div', { class: 'actions' }, file), text,
    h('div', { class: 'actions' },
      h('button', { id: 'scenario-validate', onclick: () => run('validate') }, L('検証', 'Validate')),
      ctx.can('admin') ? [why, h('label', {}, publish, L(' すぐに公開する', ' publish now')),
        h('button', { class: 'primary', id: 'scenario-upload', onclick: () => run('upload') }, L('登録', 'Upload'))] : null),
    msg);
}

async function list(root, ctx) {
  const rows = await api('GET', '/scenarios');
  fill(root, h('h1', {}, L('シナリオ', 'Scenarios')),
    table([L('名前', 'Name'), L('公開中の版', 'Live version'), L('最新の版', 'Latest version')],
      rows.map((r) => [r.name, r.live ? badge(`v${r.live}`, 'live') : badge(L('非公開', 'not live')), `v${r.latest}`]),
      { onrow: (i) => ctx.go('scenarios', rows[i].name), empty: L('シナリオはありません', 'No scenarios') }),
    uploadBox(ctx, () => list(root, ctx)));
}

async function detail(root, ctx, name) {
  const info = await api('GET', `/scenarios/${encodeURIComponent(name)}`);
  const live = info.live ? info.live.version : null;
  const versions = [...info.versions].sort((a, b) => b.version - a.version);
  const why = h('input', { id: 'scenario-why', size: 44, placeholder: L('公開・ロールバックの理由 (必須)', 'Reason for publishing or rolling back (required)') });
  const msg = h('div', { id: 'scenario-message' });
  const graphEl = h('div', { id: 'graph-wrap' });
  const diffEl = h('div', { id: 'diff-wrap' });
  const shown = { v: live || versions[0]?.version };
  const docs = new Map();
  const doc = async (v) => {
    if (!docs.has(v)) docs.set(v, await api('GET', `/scenarios/${encodeURIComponent(name)}/versions/${v}`));
    return docs.get(v);
  };
  const showGraph = async (v) => {
    shown.v = v;
    const d = await doc(v);
    fill(graphEl, h('div', { class: 'actions' }, h('h2', {}, L(`構成図 (v${v})`, `Node graph (v${v})`)),
      h('button', { onclick: () => saveText(`${name}-v${v}.json`, JSON.stringify(d, null, 2)) }, L('JSON を保存', 'Save JSON'))),
    h('p', { class: 'muted' }, `${d.title || ''} — ${L('着信番号', 'DIDs')}: ${(d.dids || []).join(', ')} — ${L('開始ノード', 'start')}: ${d.start}`),
    drawGraph(d));
  };
  const makeLive = async (v) => {
    const action = live && v < live ? 'rollback' : 'publish';
    if (!why.value.trim()) {
      fill(msg, h('p', { class: 'error' }, L('理由を入力してください。', 'Give a reason.')));
      why.focus();
      return;
    }
    try {
      const res = await api('POST', `/scenarios/${encodeURIComponent(name)}/${action}`, { version: v, why: why.value.trim() });
      await detail(root, ctx, name);
      const m = document.getElementById('scenario-message');
      fill(m, h('p', { class: 'ok', role: 'status' }, action === 'rollback'
        ? L(`v${res.version} にロールバックしました。新しい着信から v${res.version} で応答します。`, `Rolled back to v${res.version}; new calls take it.`)
        : L(`v${res.version} を公開しました。新しい着信から v${res.version} で応答します。`, `Published v${res.version}; new calls take it.`)));
    } catch (e) {
      fill(msg, problems(e));
    }
  };
  const a = h('select', { id: 'diff-a' }, versions.map((x) => h('option', { value: x.version, selected: x.version === (versions[1]?.version ?? x.version) }, `v${x.version}`)));
  const b = h('select', { id: 'diff-b' }, versions.map((x) => h('option', { value: x.version, selected: x.version === versions[0]?.version }, `v${x.version}`)));
  const showDiff = async () => {
    const [da, db] = await Promise.all([doc(Number(a.value)), doc(Number(b.value))]);
    const lines = hunks(diffLines(JSON.stringify(da, null, 2), JSON.stringify(db, null, 2)));
    const changed = lines.some((l) => l.op === '+' || l.op === '-');
    fill(diffEl, changed
      ? h('pre', { class: 'diff', id: 'diff' }, lines.map((l) => h('span', { class: l.op === '+' ? 'add' : l.op === '-' ? 'del' : 'ctx' }, `${l.op === '…' ? '' : `${l.op} `}${l.t}`)))
      : h('p', { class: 'muted', id: 'diff' }, L('違いはありません', 'No differences')));
  };
  const isAdmin = ctx.can('admin');
  fill(root,
    h('div', { class: 'actions' }, h('button', { onclick: () => ctx.go('scenarios') }, L('← シナリオ一覧', '← Scenarios')), h('h1', {}, name),
      live ? badge(L(`公開中: v${live}`, `live: v${live}`), 'live') : badge(L('非公開', 'not live'))),
    info.live ? h('p', { class: 'muted' }, L(`v${live} を ${dateTime(info.live.at_unix)} に ${info.live.by} が公開 (理由: ${info.live.why || '—'})`,
      `v${live} made live ${dateTime(info.live.at_unix)} by ${info.live.by} (why: ${info.live.why || '—'})`)) : null,
    msg,
    isAdmin ? h('div', { class: 'actions' }, field(L('理由', 'Reason'), why)) : null,
    table([L('版', 'Version'), L('題名', 'Title'), L('登録', 'Uploaded'), L('登録者', 'By'), L('コメント', 'Comment'), L('状態', 'State'), L('操作', 'Actions')],
      versions.map((v) => [`v${v.version}`, v.title || '—', dateTime(v.uploaded_unix), v.uploaded_by, v.comment || '—',
        v.version === live ? badge(L('公開中', 'live'), 'live') : '',
        h('span', { class: 'actions' },
          h('button', { 'data-action': 'graph', 'data-version': v.version, onclick: () => showGraph(v.version).catch((e) => fill(graphEl, problems(e))) }, L('構成図', 'Graph')),
          isAdmin && v.version !== live ? h('button', { class: 'primary', 'data-action': live && v.version < live ? 'rollback' : 'publish', 'data-version': v.version, onclick: () => makeLive(v.version) },
            live && v.version < live ? L('ロールバック', 'Roll back') : L('公開', 'Publish')) : null)]),
      { cls: 'grid versions' }),
    h('h2', {}, L('版の比較', 'Compare versions')),
    h('div', { class: 'actions' }, a, '→', b, h('button', { id: 'diff-show', onclick: () => showDiff().catch((e) => fill(diffEl, problems(e))) }, L('比較', 'Compare'))),
    diffEl, graphEl,
    h('h2', {}, L('変更の履歴', 'History')),
    table([L('日時', 'When'), L('操作', 'Action'), L('版', 'Version'), L('直前の版', 'Previous'), L('誰が', 'Who'), L('理由', 'Why')],
      [...(info.audit || [])].reverse().map((e) => [dateTime(e.at_unix), { upload: L('登録', 'upload'), publish: L('公開', 'publish'), rollback: L('ロールバック', 'rollback') }[e.action] || e.action,
        `v${e.version}`, e.previous ? `v${e.previous}` : '—', e.who, e.why || '—']), { cls: 'grid history' }),
    isAdmin ? uploadBox(ctx, () => detail(root, ctx, name)) : null);
  if (shown.v) await showGraph(shown.v).catch((e) => fill(graphEl, problems(e)));
}

export function render(root, ctx) {
  return ctx.arg ? detail(root, ctx, ctx.arg) : list(root, ctx);
}
