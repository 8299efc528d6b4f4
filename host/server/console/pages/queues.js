// Queues: members and their states (live), log a member in or out, pause and resume; the
// history report per hour or day with a chart (offered, answered, abandoned).
import { h, fill, table, field, badge } from '../js/dom.js';
import { api } from '../js/api.js';
import { L } from '../js/i18n.js';
import { dateTime, duration, percent, todayJst } from '../js/fmt.js';
import { stateName } from './dashboard.js';

function chart(canvas, intervals, interval) {
  const dpr = window.devicePixelRatio || 1;
  const w = canvas.clientWidth || 900;
  const hgt = canvas.clientHeight || 260;
  canvas.width = w * dpr;
  canvas.height = hgt * dpr;
  const g = canvas.getContext('2d');
  g.setTransform(dpr, 0, 0, dpr, 0, 0);
  g.clearRect(0, 0, w, hgt);
  const series = [['offered', '#9aa5b4'], ['answered', '#1e7b4a'], ['abandoned', '#b3261e']];
  const top0 = Math.max(0, ...intervals.flatMap((i) => series.map(([k]) => i[k] || 0)));
  const max = Math.max(4, Math.ceil(top0 / 4) * 4);
  const left = 36; const bottom = 28; const top = 10;
  const plotH = hgt - bottom - top;
  const slot = (w - left - 10) / Math.max(1, intervals.length);
  const bw = Math.max(2, (slot - 4) / 3);
  g.font = '11px sans-serif';
  g.fillStyle = '#5b6675';
  g.strokeStyle = '#d9dee6';
  for (let k = 0; k <= 4; k += 1) {
    const y = top + plotH - (plotH * k) / 4;
    g.beginPath(); g.moveTo(left, y); g.lineTo(w - 10, y); g.stroke();
    g.fillText(String(Math.round((max * k) / 4)), 4, y + 4);
  }
  intervals.forEach((iv, n) => {
    series.forEach(([k, color], s) => {
      const v = iv[k] || 0;
      const bh = (v / max) * plotH;
      g.fillStyle = color;
      g.fillRect(left + n * slot + 2 + s * bw, top + plotH - bh, bw - 1, bh);
    });
    const d = new Date(iv.start);
    const label = interval === 'hour'
      ? new Intl.DateTimeFormat('ja-JP', { timeZone: 'Asia/Tokyo', hour: 'numeric', hourCycle: 'h23' }).format(d)
      : new Intl.DateTimeFormat('ja-JP', { timeZone: 'Asia/Tokyo', month: 'numeric', day: 'numeric' }).format(d);
    if (intervals.length <= 31 || n % Math.ceil(intervals.length / 31) === 0) {
      g.fillStyle = '#5b6675';
      g.fillText(label, left + n * slot + 2, hgt - 10);
    }
  });
}

export async function render(root, ctx) {
  const data = await api('GET', '/queues');
  const queues = data.queues || [];
  const msg = h('div', { id: 'queue-message' });
  const act = async (member, action) => {
    try {
      await api('POST', `/queues/members/${encodeURIComponent(member)}`, { action });
      ctx.refresh();
    } catch (e) {
      fill(msg, h('p', { class: 'error' }, e.message));
    }
  };
  const canManage = ctx.can('queues-manage');
  const today = todayJst();
  const weekAgo = todayJst(new Date(Date.now() - 6 * 86400_000));
  const qsel = h('select', { id: 'history-queue' }, queues.map((q) => h('option', { value: q.name }, q.name)));
  const from = h('input', { type: 'date', id: 'history-from', value: weekAgo });
  const to = h('input', { type: 'date', id: 'history-to', value: today });
  const interval = h('select', { id: 'history-interval' }, h('option', { value: 'day' }, L('日ごと', 'per day')), h('option', { value: 'hour' }, L('時間ごと', 'per hour')));
  const canvas = h('canvas', { id: 'history-chart' });
  const histTable = h('div', { id: 'history-table' });
  const loadHistory = async () => {
    if (!qsel.value) return;
    const r = await api('GET', `/queues/${encodeURIComponent(qsel.value)}/history`, null, { from: from.value, to: to.value, interval: interval.value });
    const ivs = r.intervals || [];
    chart(canvas, ivs, interval.value);
    fill(histTable, table([L('期間の開始', 'From'), L('着信', 'Offered'), L('応答', 'Answered'), L('放棄', 'Abandoned'), L('サービスレベル', 'Service level'), L('平均待ち', 'Avg wait'), L('平均通話', 'Avg talk')],
      ivs.filter((i) => i.offered || i.answered || i.abandoned).map((i) => [dateTime(i.start, { seconds: false }), i.offered, i.answered, i.abandoned, percent(i.service_level), duration(i.average_wait_ms), duration(i.average_talk_ms)]),
      { empty: L('この期間の着信はありません', 'No calls in this period') }));
  };
  fill(root, h('h1', {}, L('着信キュー', 'Queues')), msg,
    queues.length ? null : h('p', { class: 'muted' }, L('着信キューは設定されていません', 'No queues configured')),
    queues.map((q) => h('div', { class: 'card', 'data-queue': q.name },
      h('h2', {}, `${q.name}`, ' ', h('small', {}, L(`待ち呼 ${q.live?.waiting ?? 0} 件・最長 ${duration(q.live?.longest_wait_ms || 0)}・起動以来 応答 ${q.period?.answered ?? 0} / 放棄 ${q.period?.abandoned ?? 0}`,
        `${q.live?.waiting ?? 0} waiting, longest ${duration(q.live?.longest_wait_ms || 0)}; since start ${q.period?.answered ?? 0} answered / ${q.period?.abandoned ?? 0} abandoned`))),
      table([L('担当者', 'Member'), L('状態', 'State'), L('操作', 'Actions')],
        (q.live?.members || []).map(([m, st]) => [m, badge(stateName(st.state), st.state),
          canManage ? h('span', { class: 'actions' },
            st.state === 'logged_out' ? h('button', { 'data-member': m, 'data-action': 'login', onclick: () => act(m, 'login') }, L('ログイン', 'Log in'))
              : h('button', { 'data-member': m, 'data-action': 'logout', onclick: () => act(m, 'logout') }, L('ログアウト', 'Log out')),
            st.state === 'paused' ? h('button', { 'data-member': m, 'data-action': 'unpause', onclick: () => act(m, 'unpause') }, L('再開', 'Resume'))
              : st.state !== 'logged_out' ? h('button', { 'data-member': m, 'data-action': 'pause', onclick: () => act(m, 'pause') }, L('離席', 'Pause')) : null) : '—'])))),
    queues.length ? [h('h2', {}, L('履歴レポート', 'History report')),
      h('form', { class: 'filters', onsubmit: (e) => { e.preventDefault(); loadHistory().catch((err) => fill(histTable, h('p', { class: 'error' }, err.message))); } },
        field(L('キュー', 'Queue'), qsel), field(L('開始日', 'From'), from), field(L('終了日', 'To'), to), field(L('単位', 'Interval'), interval),
        h('button', { type: 'submit', class: 'primary', id: 'history-show' }, L('表示', 'Show'))),
      h('div', { class: 'chart' }, canvas, h('div', { class: 'legend' }, h('span', {}, h('i', { style: { background: '#9aa5b4' } }), L('着信', 'offered')),
        h('span', {}, h('i', { style: { background: '#1e7b4a' } }), L('応答', 'answered')), h('span', {}, h('i', { style: { background: '#b3261e' } }), L('放棄', 'abandoned')))),
      histTable] : null);
  if (queues.length) await loadHistory().catch((err) => fill(histTable, h('p', { class: 'error' }, err.message)));
  const timer = setInterval(async () => {
    try {
      const d = await api('GET', '/queues');
      const changed = JSON.stringify((d.queues || []).map((q) => q.live)) !== JSON.stringify(queues.map((q) => q.live));
      if (changed && !root.contains(document.activeElement)) ctx.refresh();
    } catch { /* next time */ }
  }, 5000);
  return () => clearInterval(timer);
}
