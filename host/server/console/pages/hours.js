// Hours and holidays: per schedule destination of a scenario, a month calendar coloured
// open / closed / holiday / year-end closure / special closure, as the server computes it
// (GET /scenarios/{name}/calendar, the schedule plugin's own crate). Adding a closure day
// or importing the Cabinet Office holiday CSV makes a new scenario version and publishes it.
import { h, fill, field } from '../js/dom.js';
import { api } from '../js/api.js';
import { L, lang } from '../js/i18n.js';
import { monthTitle, todayJst } from '../js/fmt.js';

const STATES = {
  open: ['開庁・受付', 'open'], closed: ['閉庁 (受付時間なし)', 'closed (no hours)'], holiday: ['祝日', 'national holiday'],
  year_end: ['年末年始休業', 'year-end closure'], special_closure: ['臨時休業', 'special closure'],
};
const WEEK = [['日', 'Sun'], ['月', 'Mon'], ['火', 'Tue'], ['水', 'Wed'], ['木', 'Thu'], ['金', 'Fri'], ['土', 'Sat']];
const KEYS = ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'];

function monthTable(dest, year, month) {
  const first = KEYS.indexOf(dest.days[0].weekday);
  const cells = [];
  for (let i = 0; i < first; i += 1) cells.push(h('td', { class: 'pad' }));
  for (const d of dest.days) {
    const day = Number(d.date.slice(8));
    const label = d.state === 'open' ? d.hours.join(' ') : d.state === 'holiday' ? d.name : d.state === 'special_closure' ? d.name
      : d.state === 'year_end' ? L('年末年始', 'year end') : L('休み', 'closed');
    cells.push(h('td', {
      class: `${d.state} ${d.weekday}`, 'data-date': d.date, 'data-state': d.state,
      title: `${d.date} ${L(...STATES[d.state])}${d.holiday ? ` (${d.holiday})` : ''}${d.hours.length ? ` ${d.hours.join(', ')}` : ''}`,
    }, h('div', { class: 'd' }, day), h('div', {}, label), d.holiday && d.state !== 'holiday' ? h('div', { class: 'muted' }, d.holiday) : null));
  }
  while (cells.length % 7) cells.push(h('td', { class: 'pad' }));
  const rows = [];
  for (let i = 0; i < cells.length; i += 7) rows.push(h('tr', {}, cells.slice(i, i + 7)));
  return h('table', { class: 'cal', 'data-destination': dest.name, 'aria-label': `${dest.name} ${monthTitle(year, month)}` },
    h('thead', {}, h('tr', {}, WEEK.map(([ja, en], i) => h('th', { class: KEYS[i] }, L(ja, en))))), h('tbody', {}, rows));
}

function weeklyText(dest) {
  const names = { mon: ['月', 'Mon'], tue: ['火', 'Tue'], wed: ['水', 'Wed'], thu: ['木', 'Thu'], fri: ['金', 'Fri'], sat: ['土', 'Sat'], sun: ['日', 'Sun'] };
  const order = ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'];
  const parts = Object.entries(dest.weekly || {}).sort(([a], [b]) => order.indexOf(a) - order.indexOf(b)).map(([k, v]) => `${L(...(names[k] || [k, k]))} ${v.join(',')}`);
  return `${parts.join(lang() === 'ja' ? '、' : ', ')}${dest.closed_on_national_holidays ? L('/祝日休み', '; closed on holidays') : ''}${dest.year_end_closure ? L('/年末年始休み', '; year-end closure') : ''}`;
}

/// Cabinet Office syukujitsu.csv (Shift_JIS or UTF-8): "YYYY/M/D,name" lines after a header.
export function parseHolidayCsv(buffer) {
  let text;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(buffer);
  } catch {
    text = new TextDecoder('shift_jis').decode(buffer);
  }
  const out = [];
  for (const line of text.replace(/^\uFEFF/, '').split(/\r?\n/)) {
    const m = line.match(/^(\d{4})\/(\d{1,2})\/(\d{1,2}),(.+)$/);
    if (m) out.push({ date: `${m[1]}-${m[2].padStart(2, '0')}-${m[3].padStart(2, '0')}`, name: m[4].trim() });
  }
  if (!out.length) throw new Error(L('祝日の行が見つかりません (「YYYY/M/D,名称」の形式)', 'no holiday lines found ("YYYY/M/D,name")'));
  return out;
}

export async function render(root, ctx) {
  const list = (await api('GET', '/scenarios')).filter((s) => s.live);
  const q = new URLSearchParams(ctx.arg || '');
  const scenario = h('select', { id: 'hours-scenario' }, list.map((s) => h('option', { value: s.name, selected: s.name === q.get('scenario') }, s.name)));
  const month = h('input', { type: 'month', id: 'hours-month', value: q.get('month') || todayJst().slice(0, 7) });
  const out = h('div', { id: 'hours-calendars' });
  const msg = h('div', { id: 'hours-message' });
  let current = null;
  const shift = (n) => {
    const [y, m] = month.value.split('-').map(Number);
    const d = new Date(Date.UTC(y, m - 1 + n, 1));
    month.value = `${d.getUTCFullYear()}-${String(d.getUTCMonth() + 1).padStart(2, '0')}`;
    load().catch(show);
  };
  const show = (e) => fill(out, h('p', { class: 'error' }, e.message));
  const load = async () => {
    if (!scenario.value) {
      fill(out, h('p', { class: 'muted' }, L('公開中のシナリオがありません', 'No live scenario')));
      return;
    }
    const [y, m] = month.value.split('-').map(Number);
    current = await api('GET', `/scenarios/${encodeURIComponent(scenario.value)}/calendar`, null, { month: month.value });
    fill(out, h('h2', {}, `${monthTitle(y, m)} — ${scenario.value} v${current.version}`),
      current.schedules.length ? null : h('p', { class: 'muted' }, L('このシナリオにはスケジュールがありません', 'This scenario has no schedules')),
      h('div', { class: 'calendars' }, current.schedules.flatMap((sch) => sch.error
        ? [h('p', { class: 'error' }, `${sch.name}: ${sch.error}`)]
        : sch.destinations.map((d) => h('div', { class: 'card' }, h('h3', {}, `${d.name}`, h('small', {}, ` (${sch.name})`)), h('p', { class: 'muted' }, weeklyText(d)), monthTable(d, y, m))))));
    fillDestinations();
  };
  // Changes: a closure day, or the official holiday list.
  const dest = h('select', { id: 'closure-destination' });
  const fillDestinations = () => {
    fill(dest, (current?.schedules || []).flatMap((sch) => (sch.destinations || []).map((d) => h('option', { value: `${sch.name}/${d.name}` }, `${d.name} (${sch.name})`))));
  };
  const cDate = h('input', { type: 'date', id: 'closure-date' });
  const cUntil = h('input', { type: 'date', id: 'closure-until' });
  const cName = h('input', { id: 'closure-name', size: 20, placeholder: L('庁舎設備点検', 'Building maintenance') });
  const why = h('input', { id: 'hours-why', size: 30, placeholder: L('変更の理由 (必須)', 'Reason (required)') });
  const csv = h('input', { type: 'file', id: 'holiday-csv', accept: '.csv,text/csv' });
  const change = async (edit, what) => {
    fill(msg);
    try {
      if (!why.value.trim()) throw new Error(L('変更の理由を入力してください。', 'Give a reason.'));
      const name = scenario.value;
      const doc = await api('GET', `/scenarios/${encodeURIComponent(name)}/versions/${current.version}`);
      edit(doc);
      const res = await api('POST', '/scenarios', JSON.stringify(doc, null, 2), { publish: 'true', why: `${what}: ${why.value.trim()}` });
      await load();
      fill(msg, h('p', { class: 'ok' }, L(`v${res.version} として公開しました (${what})`, `Published as v${res.version} (${what})`)));
    } catch (e) {
      const problems = e.body && e.body.problems;
      fill(msg, h('div', { class: 'error' }, e.message, problems ? h('ul', { class: 'problems' }, problems.map((p) => h('li', {}, h('code', {}, p.path), ' ', p.message))) : null));
    }
  };
  const addClosure = (e) => {
    e.preventDefault();
    const [sch, d] = dest.value.split('/');
    if (!cDate.value || !cName.value.trim()) { fill(msg, h('p', { class: 'error' }, L('日付と名称を入力してください。', 'Give a date and a name.'))); return; }
    change((doc) => {
      const target = doc.schedules[sch].config.destinations[d];
      target.closures = target.closures || [];
      target.closures.push({ date: cDate.value, ...(cUntil.value ? { until: cUntil.value } : {}), name: cName.value.trim() });
    }, L(`臨時休業 ${cDate.value} を追加`, `closure ${cDate.value} added`));
  };
  const importCsv = async (e) => {
    e.preventDefault();
    if (!csv.files[0]) { fill(msg, h('p', { class: 'error' }, L('CSV ファイルを選んでください。', 'Choose a CSV file.'))); return; }
    let rows;
    try {
      rows = parseHolidayCsv(await csv.files[0].arrayBuffer());
    } catch (err) {
      fill(msg, h('p', { class: 'error' }, err.message));
      return;
    }
    const years = rows.map((r) => r.date.slice(0, 4));
    const lo = years.reduce((a, b) => (a < b ? a : b));
    const hi = years.reduce((a, b) => (a > b ? a : b));
    change((doc) => {
      for (const s of Object.values(doc.schedules || {})) {
        if (!s.config || !s.config.destinations) continue;
        const keep = (s.config.holiday_overrides || []).filter((o) => o.date.slice(0, 4) < lo || o.date.slice(0, 4) > hi);
        s.config.holiday_overrides = keep.concat(rows).sort((a, b) => a.date.localeCompare(b.date));
      }
    }, L(`内閣府の祝日一覧 ${lo}〜${hi}年 (${rows.length} 日) を取り込み`, `Cabinet Office holidays ${lo}-${hi} (${rows.length} days) imported`));
  };
  fill(root, h('h1', {}, L('受付時間・休日', 'Hours and holidays')),
    h('form', { class: 'filters', onsubmit: (e) => { e.preventDefault(); load().catch(show); } },
      field(L('シナリオ', 'Scenario'), scenario),
      h('button', { type: 'button', id: 'hours-prev', onclick: () => shift(-1) }, L('← 前月', '← Prev')),
      field(L('月', 'Month'), month),
      h('button', { type: 'button', id: 'hours-next', onclick: () => shift(1) }, L('翌月 →', 'Next →')),
      h('button', { type: 'submit', class: 'primary', id: 'hours-show' }, L('表示', 'Show'))),
    h('div', { class: 'legend' }, Object.entries(STATES).map(([k, v]) => h('span', {}, h('i', { class: k }), L(...v)))),
    out, msg,
    ctx.can('admin') ? h('div', { class: 'actions' }, field(L('変更の理由 (臨時休業・祝日の取り込みに必須)', 'Reason for a change (needed below)'), why)) : null,
    ctx.can('admin') ? h('div', { class: 'row' },
      h('form', { class: 'card', onsubmit: addClosure }, h('h2', {}, L('臨時休業日の追加', 'Add a closure day')),
        h('div', { class: 'filters' }, field(L('窓口', 'Destination'), dest), field(L('日付', 'Date'), cDate), field(L('最終日 (任意)', 'Until (optional)'), cUntil), field(L('名称', 'Name'), cName)),
        h('button', { type: 'submit', class: 'primary', id: 'closure-add' }, L('追加して公開', 'Add and publish'))),
      h('form', { class: 'card', onsubmit: importCsv }, h('h2', {}, L('内閣府「国民の祝日」CSV の取り込み', 'Import the Cabinet Office holiday CSV')),
        h('p', { class: 'muted' }, L('syukujitsu.csv (Shift_JIS) を選ぶと、含まれる年の祝日を置き換えた新しい版を公開します。', 'syukujitsu.csv (Shift_JIS): replaces the holidays of the years it covers, as a new published version.')),
        h('div', { class: 'actions' }, csv, h('button', { type: 'submit', class: 'primary', id: 'holiday-import' }, L('取り込んで公開', 'Import and publish'))))) : null);
  await load().catch(show);
}
