// Recordings: search with the API's filters, play in the page with a seekable waveform of
// both channels (caller left/top, the other side right/bottom), download, and the audit
// entries of the recording. Audio is fetched once, when the user presses play (that fetch
// is the audited listen), and played from memory so seeking costs nothing more.
import { h, fill, table, field, badge } from '../js/dom.js';
import { api, fetchBinary } from '../js/api.js';
import { L } from '../js/i18n.js';
import { dateTime, duration, bytes, yesNo } from '../js/fmt.js';
import { parseWav, peaks, draw } from '../js/wav.js';
import { timeline } from './calls.js';
import { actionName } from './audit.js';

const FILTERS = ['from', 'to', 'caller', 'did', 'user', 'scenario', 'direction', 'min_duration', 'complete', 'repaired'];

function search(root, ctx) {
  const q = new URLSearchParams(ctx.arg || '');
  const inputs = {
    from: h('input', { type: 'date', id: 'rec-from', value: q.get('from') || '' }),
    to: h('input', { type: 'date', id: 'rec-to', value: q.get('to') || '' }),
    caller: h('input', { id: 'rec-caller', size: 14, inputmode: 'tel', value: q.get('caller') || '' }),
    did: h('input', { id: 'rec-did', size: 14, inputmode: 'tel', value: q.get('did') || '' }),
    user: h('input', { id: 'rec-user', size: 8, value: q.get('user') || '' }),
    scenario: h('input', { id: 'rec-scenario', size: 14, value: q.get('scenario') || '' }),
    direction: h('select', { id: 'rec-direction' }, h('option', { value: '' }, L('すべて', 'all')),
      h('option', { value: 'inbound' }, L('外線着信', 'inbound')), h('option', { value: 'internal' }, L('内線', 'internal'))),
    min_duration: h('input', { id: 'rec-min', type: 'number', min: 0, style: { width: '6rem' }, value: q.get('min_duration') || '' }),
    complete: h('select', { id: 'rec-complete' }, h('option', { value: '' }, L('すべて', 'all')),
      h('option', { value: 'true' }, L('完全', 'complete')), h('option', { value: 'false' }, L('不完全', 'incomplete'))),
    repaired: h('select', { id: 'rec-repaired' }, h('option', { value: '' }, L('すべて', 'all')),
      h('option', { value: 'true' }, L('修復済み', 'repaired')), h('option', { value: 'false' }, L('修復なし', 'not repaired'))),
  };
  const out = h('div', { id: 'rec-results' });
  let items = [];
  let next = null;
  const load = async (more) => {
    const query = { limit: 50 };
    for (const k of FILTERS) query[k] = inputs[k].value.trim();
    if (more && next) query.cursor = next;
    const res = await api('GET', '/recordings', null, query);
    items = more ? items.concat(res.items || []) : res.items || [];
    next = res.next || null;
    fill(out,
      table([L('開始', 'Started'), L('発信者', 'Caller'), L('着信先', 'Callee'), L('着信番号', 'DID'), L('担当者', 'Staff'), L('長さ', 'Length'), L('サイズ', 'Size'), L('状態', 'State')],
        items.map((r) => [dateTime(r.start || r.start_unix), r.caller || '—', r.callee || '—', r.did || '—', r.user || '—',
          duration(r.duration_ms), bytes(r.size),
          h('span', {}, r.complete ? badge(L('完全', 'complete'), 'ok') : badge(L('不完全', 'incomplete'), 'warn'), r.repaired ? [' ', badge(L('修復済み', 'repaired'), 'warn')] : null)]),
        { onrow: (i) => ctx.go('recordings', items[i].id), empty: L('該当する録音はありません', 'No recordings found') }),
      next ? h('div', { class: 'actions' }, h('button', { onclick: () => load(true).catch(show) }, L('さらに表示', 'More'))) : null);
  };
  const show = (e) => fill(out, h('p', { class: 'error' }, e.message));
  const form = h('form', { class: 'filters', onsubmit: (e) => { e.preventDefault(); load(false).catch(show); } },
    field(L('開始日', 'From'), inputs.from), field(L('終了日', 'To'), inputs.to),
    field(L('発信者番号', 'Caller number'), inputs.caller), field(L('着信番号', 'DID'), inputs.did),
    field(L('内線・担当者', 'Extension / member'), inputs.user), field(L('シナリオ', 'Scenario'), inputs.scenario),
    field(L('種別', 'Direction'), inputs.direction), field(L('最短の長さ(秒)', 'Min length (s)'), inputs.min_duration),
    field(L('完全性', 'Completeness'), inputs.complete), field(L('修復', 'Repair'), inputs.repaired),
    h('button', { type: 'submit', class: 'primary', id: 'rec-search' }, L('検索', 'Search')));
  fill(root, h('h1', {}, L('録音', 'Recordings')), form, out);
  load(false).catch(show);
}

function player(id, canListen) {
  const canvas = h('canvas', { id: 'waveform', 'aria-label': L('波形 (クリックで移動)', 'Waveform (click to seek)') });
  const audio = h('audio', { id: 'rec-audio', controls: true, preload: 'none' });
  const status = h('p', { id: 'rec-status', class: 'hidden', role: 'status' });
  const play = h('button', { class: 'primary', id: 'rec-play' }, L('▶ 再生', '▶ Play'));
  let pk = null;
  let objectUrl = null;
  const labels = [L('発信者 (左)', 'Caller (left)'), L('応答側 (右)', 'Answering side (right)')];
  const redraw = () => { if (pk) draw(canvas, pk, audio.duration ? audio.currentTime / audio.duration : 0, labels); };
  audio.addEventListener('timeupdate', redraw);
  const label = () => { play.textContent = audio.paused ? L('▶ 再生', '▶ Play') : L('‖ 一時停止', '‖ Pause'); };
  audio.addEventListener('play', label);
  audio.addEventListener('pause', label);
  let raf = 0;
  const tick = () => { redraw(); if (!audio.paused) raf = requestAnimationFrame(tick); };
  audio.addEventListener('play', () => { cancelAnimationFrame(raf); raf = requestAnimationFrame(tick); });
  canvas.addEventListener('click', (e) => {
    if (!audio.duration) return;
    const r = canvas.getBoundingClientRect();
    audio.currentTime = ((e.clientX - r.left) / r.width) * audio.duration;
    redraw();
  });
  const load = async () => {
    play.disabled = true;
    status.className = 'info';
    status.textContent = L('音声を読み込んでいます…', 'Loading audio…');
    const res = await fetchBinary(`/recordings/${encodeURIComponent(id)}/audio`);
    if (!res.ok) {
      status.className = 'error';
      status.textContent = res.status === 403
        ? L(`この録音を再生する権限がありません (403)。この操作は監査ログに記録されました。`, 'You may not listen to this recording (403). The attempt was logged.')
        : `${L('再生できません', 'Cannot play')} (${res.status}): ${res.error}`;
      play.disabled = false;
      return false;
    }
    try {
      const wav = parseWav(res.buffer);
      pk = peaks(wav, 1200);
      if (wav.channels === 1) labels.splice(0, 2, L('両方の音声', 'Both sides'));
    } catch (e) {
      status.className = 'error';
      status.textContent = `${L('波形を描けません', 'Cannot draw the waveform')}: ${e.message}`;
    }
    objectUrl = URL.createObjectURL(new Blob([res.buffer], { type: 'audio/wav' }));
    audio.src = objectUrl;
    status.className = 'hidden';
    redraw();
    return true;
  };
  play.addEventListener('click', async () => {
    if (!audio.src && !(await load())) return;
    play.disabled = false;
    if (!audio.paused) {
      audio.pause();
      return;
    }
    await audio.play().catch((e) => { status.className = 'error'; status.textContent = e.message; });
  });
  const download = canListen
    ? h('a', { id: 'rec-download', class: 'button', href: `/api/v1/recordings/${encodeURIComponent(id)}/audio?download=1`, download: '' }, L('⤓ ダウンロード', '⤓ Download'))
    : null;
  const el = h('div', { class: 'player' }, canvas,
    h('div', { class: 'controls' }, play, audio, download),
    h('div', { class: 'legend' }, h('span', {}, h('i', { style: { background: '#6fb3ff' } }), labels[0]), h('span', {}, h('i', { style: { background: '#7ee0a6' } }), labels[1]),
      h('span', {}, L('波形をクリックするとその位置から再生します', 'Click the waveform to seek'))),
    status);
  requestAnimationFrame(() => draw(canvas, [new Float32Array(2), new Float32Array(2)], 0, labels));
  const cleanup = () => { audio.pause(); if (objectUrl) URL.revokeObjectURL(objectUrl); };
  return { el, cleanup };
}

export async function auditTable(object) {
  const res = await api('GET', '/audit', null, { object, limit: 100 });
  return table([L('日時', 'When'), L('誰が', 'Who'), L('操作', 'Action'), L('接続元', 'From'), L('詳細', 'Detail')],
    (res.items || []).map((a) => [dateTime(a.at || a.at_unix_ms), a.who, actionName(a.action), a.source || '—', a.detail && Object.keys(a.detail).length ? h('code', {}, JSON.stringify(a.detail)) : '']),
    { empty: L('記録はありません', 'No entries'), cls: 'grid audit' });
}

async function detail(root, ctx, id) {
  fill(root, h('p', { class: 'loading' }, L('読み込み中…', 'Loading…')));
  const r = await api('GET', `/recordings/${encodeURIComponent(id)}`);
  const canListen = ctx.can('recordings-listen');
  const p = player(id, canListen);
  const auditEl = h('div', { id: 'rec-audit' });
  const reload = async () => {
    if (!ctx.can('audit-read')) return;
    fill(auditEl, await auditTable(id));
  };
  fill(root,
    h('div', { class: 'actions' }, h('button', { onclick: () => ctx.go('recordings') }, L('← 録音一覧', '← Recordings')), h('h1', {}, L('録音', 'Recording'))),
    p.el,
    h('div', { class: 'row', style: { marginTop: '1rem' } },
      h('div', { class: 'card' }, h('h2', {}, L('録音の情報', 'Details')), h('dl', { class: 'meta', id: 'rec-meta' },
        h('dt', {}, 'ID'), h('dd', { class: 'mono' }, r.id),
        h('dt', {}, L('開始', 'Started')), h('dd', {}, dateTime(r.start || r.start_unix)),
        h('dt', {}, L('長さ', 'Length')), h('dd', {}, duration(r.duration_ms)),
        h('dt', {}, L('発信者', 'Caller')), h('dd', { id: 'rec-caller-value' }, r.caller || '—'),
        h('dt', {}, L('着信先', 'Callee')), h('dd', {}, r.callee || '—'),
        h('dt', {}, L('着信番号', 'DID')), h('dd', {}, r.did || '—'),
        h('dt', {}, L('担当者', 'Staff')), h('dd', {}, r.user || '—'),
        h('dt', {}, L('シナリオ', 'Scenario')), h('dd', {}, r.scenario || '—'),
        h('dt', {}, L('サイズ', 'Size')), h('dd', {}, bytes(r.size)),
        h('dt', {}, 'SHA-256'), h('dd', { class: 'mono', id: 'rec-sha256' }, r.sha256 || '—'),
        h('dt', {}, L('完全', 'Complete')), h('dd', {}, yesNo(r.complete)),
        h('dt', {}, L('修復', 'Repaired')), h('dd', {}, yesNo(r.repaired)),
        r.problems && r.problems.length ? [h('dt', {}, L('問題', 'Problems')), h('dd', {}, r.problems.join(', '))] : null,
        h('dt', {}, L('通話記録', 'Call record')), h('dd', {}, r.call_id ? h('a', { href: `#/calls/${encodeURIComponent(`id=${r.call_id}`)}` }, r.call_id) : '—'))),
      h('div', { class: 'card' }, h('h2', {}, L('イベントの記録', 'Event log')), timeline(r.call_record?.events))),
    ctx.can('audit-read') ? [h('div', { class: 'actions' }, h('h2', {}, L('この録音の監査ログ', 'Audit entries of this recording')), h('button', { id: 'rec-audit-reload', onclick: () => reload().catch(() => {}) }, L('更新', 'Reload'))), auditEl] : null,
    ctx.can('recordings-delete') ? deleteBox(id, ctx) : null);
  document.getElementById('rec-audio')?.addEventListener('play', () => setTimeout(() => reload().catch(() => {}), 500));
  reload().catch((e) => fill(auditEl, h('p', { class: 'error' }, e.message)));
  return p.cleanup;
}

function deleteBox(id, ctx) {
  const reason = h('input', { id: 'rec-delete-reason', size: 40, placeholder: L('削除の理由 (必須)', 'Reason (required)') });
  const msg = h('p', { class: 'hidden' });
  return h('details', { class: 'card' }, h('summary', {}, L('録音の削除 (管理者)', 'Delete this recording (admin)')),
    h('div', { class: 'actions' }, reason, h('button', { class: 'danger', onclick: async () => {
      if (!reason.value.trim()) { msg.className = 'error'; msg.textContent = L('理由を入力してください。', 'Give a reason.'); return; }
      if (!confirm(L('この録音を削除します。元に戻せません。よろしいですか?', 'Delete this recording for good?'))) return;
      try {
        await api('DELETE', `/recordings/${encodeURIComponent(id)}`, { reason: reason.value.trim() });
        ctx.go('recordings');
      } catch (e) { msg.className = 'error'; msg.textContent = e.message; }
    } }, L('削除', 'Delete'))), msg);
}

export function render(root, ctx) {
  if (ctx.arg && !ctx.arg.includes('=')) return detail(root, ctx, ctx.arg);
  return search(root, ctx);
}
