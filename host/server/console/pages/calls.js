// Calls: search the call records; one call's event log as a timeline (nodes, prompts, keys,
// branches, transfer, recording) and its SIP messages as a ladder diagram when the server
// kept a trace of it.
import { h, fill, table, field, s } from '../js/dom.js';
import { api } from '../js/api.js';
import { L } from '../js/i18n.js';
import { dateTime, duration, toDate } from '../js/fmt.js';

const KINDS = {
  version: ['シナリオ版', 'scenario version'], notice: ['録音の案内', 'recording notice'],
  'recording-start': ['録音開始', 'recording started'], 'recording-stop': ['録音終了', 'recording stopped'],
  node: ['ノード', 'node'], play: ['再生', 'played'], branch: ['分岐', 'branch'], key: ['キー入力', 'key'],
  dtmf: ['キー入力', 'key'], digits: ['キー入力', 'keys'], transfer: ['転送', 'transfer'], hangup: ['切断', 'hang-up'],
  error: ['エラー', 'error'], 'caller-hangup': ['発信者が切断', 'caller hung up'], 'callee-hangup': ['相手が切断', 'callee hung up'],
  'server-hangup': ['サーバーが切断', 'server hung up'], finished: ['終了', 'finished'], queue: ['キュー', 'queue'], answer: ['応答', 'answered'], end: ['終了', 'end'],
};

export function kindName(k) {
  const n = KINDS[k];
  return n ? L(n[0], n[1]) : k;
}

function detailText(ev) {
  const d = ev.detail;
  if (!d) return '';
  if (d.prompts) return d.prompts.join(', ');
  if (d.to) return `→ ${d.to}`;
  if (d.scenario) return `${d.scenario} v${d.version}`;
  if (d.file) return d.file;
  if (d.key || d.digit || d.digits) return String(d.key ?? d.digit ?? d.digits);
  return JSON.stringify(d);
}

/// The event log as a timeline (shared with the recordings page).
export function timeline(events) {
  if (!events || !events.length) return h('p', { class: 'muted' }, L('イベントはありません', 'No events'));
  return h('ol', { class: 'timeline', id: 'timeline' }, events.map((ev) =>
    h('li', { class: `kind-${ev.kind}` },
      h('span', { class: 't' }, `+${((ev.t_ms || 0) / 1000).toFixed(1)}s`), ' ',
      h('strong', {}, kindName(ev.kind)), ev.node ? h('span', {}, ` [${ev.node}]`) : null, ' ',
      h('span', { class: 'muted' }, detailText(ev)))));
}

function search(root, ctx) {
  const q = new URLSearchParams(ctx.arg || '');
  const caller = h('input', { id: 'calls-caller', value: q.get('caller') || '', size: 14, inputmode: 'tel' });
  const did = h('input', { id: 'calls-did', value: q.get('did') || '', size: 14, inputmode: 'tel' });
  const from = h('input', { id: 'calls-from', type: 'date', value: q.get('from') || '' });
  const to = h('input', { id: 'calls-to', type: 'date', value: q.get('to') || '' });
  const out = h('div', { id: 'calls-results' });
  let next = null;
  let rows = [];
  const load = async (more) => {
    const query = { limit: 50, caller: caller.value.trim(), did: did.value.trim(), from: from.value, to: to.value };
    if (more && next) query.before = next;
    // The server's own search when it has it; a server that knows fewer filters (400) is
    // asked for plain pages, and the filters are applied here.
    const res = await api('GET', '/calls', null, query).catch((e) => {
      if (e.status !== 400) throw e;
      return api('GET', '/calls', null, { limit: query.limit, before: query.before });
    });
    const list = res.calls || res.items || [];
    next = res.next || null;
    // Filters applied here as well, for a server that pages without them.
    const fromMs = from.value ? Date.parse(`${from.value}T00:00:00+09:00`) : null;
    const toMs = to.value ? Date.parse(`${to.value}T23:59:59.999+09:00`) : null;
    const keep = list.filter((c) => {
      const t = c.started_unix_ms ?? 0;
      return (!query.caller || String(c.caller || '').includes(query.caller))
        && (!query.did || String(c.did || c.callee || '').includes(query.did))
        && (fromMs === null || t >= fromMs) && (toMs === null || t <= toMs);
    });
    rows = more ? rows.concat(keep) : keep;
    fill(out,
      table([L('開始', 'Started'), L('発信者', 'Caller'), L('着信番号', 'To'), L('通話時間', 'Length'), L('結果', 'Outcome'), L('シナリオ', 'Scenario'), L('録音', 'Recording')],
        rows.map((c) => [dateTime(c.started_unix_ms), c.caller || '—', c.did || c.callee || '—',
          duration(c.ended_unix_ms && c.started_unix_ms ? c.ended_unix_ms - c.started_unix_ms : null),
          c.outcome || '—', c.scenario ? `${c.scenario} v${c.scenario_version ?? ''}` : '—', c.recording ? '●' : '']),
        { onrow: (i) => ctx.go('calls', `id=${rows[i].call_id}`), empty: L('該当する通話はありません', 'No calls found') }),
      next ? h('div', { class: 'actions' }, h('button', { onclick: () => load(true) }, L('さらに表示', 'More'))) : null);
  };
  const form = h('form', { class: 'filters', onsubmit: (e) => { e.preventDefault(); load(false).catch((err) => fill(out, h('p', { class: 'error' }, err.message))); } },
    field(L('発信者番号', 'Caller number'), caller), field(L('着信番号', 'Called number (DID)'), did),
    field(L('開始日', 'From'), from), field(L('終了日', 'To'), to),
    h('button', { type: 'submit', class: 'primary', id: 'calls-search' }, L('検索', 'Search')));
  fill(root, h('h1', {}, L('通話', 'Calls')), form, out);
  load(false).catch((err) => fill(out, h('p', { class: 'error' }, err.message)));
}

async function detail(root, ctx, id) {
  fill(root, h('p', { class: 'loading' }, L('読み込み中…', 'Loading…')));
  const c = await api('GET', `/calls/${encodeURIComponent(id)}`);
  const ladder = h('div', { id: 'ladder-wrap' }, h('p', { class: 'muted' }, L('SIP トレースを読み込み中…', 'Loading the SIP trace…')));
  const recId = c.recording ? String(c.recording).replace(/\.wav$/, '') : null;
  fill(root,
    h('div', { class: 'actions' }, h('button', { onclick: () => ctx.go('calls') }, L('← 通話一覧', '← Calls')), h('h1', {}, L('通話の詳細', 'Call'))),
    h('div', { class: 'row' },
      h('div', { class: 'card' }, h('dl', { class: 'meta' },
        h('dt', {}, 'Call-ID'), h('dd', { class: 'mono' }, c.call_id),
        h('dt', {}, L('開始', 'Started')), h('dd', {}, dateTime(c.started_unix_ms)),
        h('dt', {}, L('終了', 'Ended')), h('dd', {}, dateTime(c.ended_unix_ms)),
        h('dt', {}, L('発信者', 'Caller')), h('dd', {}, c.caller || '—'),
        h('dt', {}, L('着信番号', 'To')), h('dd', {}, c.did || c.callee || '—'),
        h('dt', {}, L('シナリオ', 'Scenario')), h('dd', {}, c.scenario ? `${c.scenario} v${c.scenario_version}` : '—'),
        h('dt', {}, L('結果', 'Outcome')), h('dd', {}, c.outcome || '—'),
        h('dt', {}, L('録音', 'Recording')), h('dd', {}, recId && ctx.can('recordings-read')
          ? h('a', { href: `#/recordings/${encodeURIComponent(recId)}` }, recId) : (recId || '—')))),
      h('div', { class: 'card' }, h('h2', {}, L('イベントの記録', 'Event log')), timeline(c.events))),
    h('h2', {}, L('SIP ラダー図', 'SIP ladder')), ladder);
  loadTrace(ladder, c);
}

/// Tries the SIP trace routes; draws a ladder when one answers.
async function loadTrace(el, c) {
  const id = encodeURIComponent(c.call_id);
  for (const path of [`/calls/${id}/sip`, `/calls/${id}/trace`, `/calls/${id}/sip-trace`]) {
    try {
      const res = await api('GET', path);
      const msgs = Array.isArray(res) ? res : res.messages || res.trace || res.items || [];
      fill(el, msgs.length ? drawLadder(msgs, !!res.truncated) : h('p', { class: 'muted' }, L('SIP メッセージはありません', 'No SIP messages')));
      return;
    } catch (e) {
      if (e.status !== 404 && e.status !== 405) {
        fill(el, h('p', { class: 'error' }, e.message));
        return;
      }
    }
  }
  fill(el, h('p', { class: 'muted' }, L('この通話の SIP トレースは保存されていません。', 'No SIP trace was kept for this call.')));
}

function firstLine(m) {
  const text = m.first_line || m.summary || m.start_line || (m.raw || m.text || m.message || '').split(/\r?\n/)[0];
  return text.replace(/ SIP\/2\.0$/, '').replace(/^SIP\/2\.0 /, '').replace(/ sip:\S+/, '');
}

/// A ladder: the server in the middle column, each peer address a column; one arrow per
/// message, in time order.
export function drawLadder(msgs, truncated = false) {
  const raw = h('pre', { class: 'sipmsg', id: 'sip-message' }, truncated ? L('(件数の上限に達したため、一部のメッセージは省かれています)', '(some messages were dropped at the per-call cap)') : '');
  const peers = [];
  const peerOf = (m) => m.peer || m.remote || ((m.direction || m.dir) === 'in' ? m.from || m.src : m.to || m.dst) || '?';
  msgs.forEach((m) => { const p = peerOf(m); if (!peers.includes(p)) peers.push(p); });
  const cols = [peers[0] || '?', 'madoguchi', ...peers.slice(1)];
  const colX = (name) => 110 + cols.indexOf(name) * 260;
  const width = 110 + (cols.length - 1) * 260 + 130;
  const rowH = 30;
  const height = 60 + msgs.length * rowH + 20;
  const t0 = toDate(msgs[0].at_ms ?? msgs[0].at_unix_ms ?? msgs[0].t_ms ?? msgs[0].at ?? 0)?.getTime() ?? 0;
  const svg = s('svg', { width, height, viewBox: `0 0 ${width} ${height}`, id: 'ladder', role: 'img' });
  svg.append(s('defs', {}, s('marker', { id: 'arrow', viewBox: '0 0 10 10', refX: 9, refY: 5, markerWidth: 7, markerHeight: 7, orient: 'auto-start-reverse' }, s('path', { d: 'M0,0 L10,5 L0,10 z', fill: '#1d4f91' }))));
  cols.forEach((c) => {
    const x = colX(c);
    svg.append(s('text', { x, y: 22, 'text-anchor': 'middle', 'font-size': 12, 'font-weight': 600 }, c));
    svg.append(s('line', { x1: x, y1: 32, x2: x, y2: height - 10, stroke: '#9aa5b4', 'stroke-dasharray': '4 3' }));
  });
  msgs.forEach((m, i) => {
    const y = 56 + i * rowH;
    const peer = colX(peerOf(m));
    const me = colX('madoguchi');
    const incoming = (m.direction || m.dir) === 'in';
    const [x1, x2] = incoming ? [peer, me] : [me, peer];
    svg.append(s('line', { x1, y1: y, x2: x2 + (x2 > x1 ? -2 : 2), y2: y, stroke: '#1d4f91', 'stroke-width': 1.5, 'marker-end': 'url(#arrow)' }));
    svg.append(s('text', { x: (x1 + x2) / 2, y: y - 5, 'text-anchor': 'middle', 'font-size': 11, class: 'msg', 'data-i': i,
      onclick: () => { fill(raw, `${m.at || ''} ${(m.direction || m.dir) === 'in' ? '←' : '→'} ${peerOf(m)} ${m.transport || ''}\n\n${m.text || m.raw || m.message || firstLine(m)}`); } },
    firstLine(m)));
    const t = toDate(m.at_ms ?? m.at_unix_ms ?? m.t_ms ?? m.at ?? 0)?.getTime();
    if (Number.isFinite(t)) svg.append(s('text', { x: 6, y: y + 4, 'font-size': 10, fill: '#5b6675' }, `+${((t - t0) / 1000).toFixed(3)}`));
  });
  return h('div', {}, h('div', { class: 'ladder' }, svg),
    h('p', { class: 'muted' }, L('矢印の文字をクリックすると、そのメッセージ全体を表示します。', 'Click a message to see it whole.')), raw);
}

export function render(root, ctx) {
  const arg = ctx.arg || '';
  if (arg.startsWith('id=')) return detail(root, ctx, arg.slice(3));
  return search(root, ctx);
}
