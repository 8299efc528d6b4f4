// Dashboard: calls now, callers waiting per queue and the longest wait, members by state,
// today's service level and abandoned calls. Polls every 5 s while shown.
import { h, fill, table, badge } from '../js/dom.js';
import { api } from '../js/api.js';
import { L } from '../js/i18n.js';
import { dateTime, duration, percent, todayJst } from '../js/fmt.js';

export const STATES = {
  available: ['受付可', 'available'], ringing: ['呼出中', 'ringing'], on_call: ['通話中', 'on call'],
  wrap_up: ['後処理', 'wrap-up'], paused: ['離席', 'paused'], logged_out: ['ログアウト', 'logged out'],
};

export function stateName(s) {
  const n = STATES[s];
  return n ? L(n[0], n[1]) : s;
}

function stat(label, value, id, sub) {
  return h('div', { class: 'stat', id }, h('div', { class: 'k' }, label), h('div', { class: 'v' }, value, sub ? h('small', {}, ` ${sub}`) : null));
}

export function render(root) {
  const body = h('div', { id: 'dashboard-body' }, h('p', { class: 'loading' }, L('読み込み中…', 'Loading…')));
  const stamp = h('small', { id: 'dashboard-updated' });
  fill(root, h('div', { class: 'actions' }, h('h1', {}, L('ダッシュボード', 'Dashboard')), stamp), body);
  let stopped = false;
  const load = async () => {
    const today = todayJst();
    const [live, queues] = await Promise.all([
      api('GET', '/calls/live').catch(() => null),
      api('GET', '/queues').catch(() => ({ queues: [] })),
    ]);
    const histories = await Promise.all((queues.queues || []).map((q) =>
      api('GET', `/queues/${encodeURIComponent(q.name)}/history`, null, { from: today, to: today, interval: 'all' }).catch(() => null)));
    if (stopped) return;
    const liveCalls = live && Array.isArray(live.calls) ? live.calls : [];
    let waiting = 0;
    let longest = 0;
    let answered = 0;
    let abandoned = 0;
    let offered = 0;
    let withinSl = 0;
    (queues.queues || []).forEach((q, i) => {
      waiting += q.live?.waiting || 0;
      longest = Math.max(longest, q.live?.longest_wait_ms || 0);
      const day = histories[i]?.intervals?.[0];
      if (day) {
        answered += day.answered || 0;
        abandoned += day.abandoned || 0;
        offered += day.offered || 0;
        withinSl += day.answered_within_service_level || 0;
      }
    });
    const sl = offered ? withinSl / offered : null;
    fill(body,
      h('div', { class: 'cards' },
        stat(L('通話中の呼', 'Calls now'), liveCalls.length, 'stat-calls'),
        stat(L('待ち呼', 'Callers waiting'), waiting, 'stat-waiting'),
        stat(L('最長待ち時間', 'Longest wait'), duration(longest), 'stat-longest'),
        stat(L('本日のサービスレベル', "Today's service level"), percent(sl), 'stat-sl', offered ? `(${withinSl}/${offered})` : ''),
        stat(L('本日の応答', 'Answered today'), answered, 'stat-answered'),
        stat(L('本日の放棄呼', 'Abandoned today'), abandoned, 'stat-abandoned'),
      ),
      h('h2', {}, L('着信キュー', 'Queues')),
      table(
        [L('キュー', 'Queue'), L('待ち呼', 'Waiting'), L('最長待ち', 'Longest wait'), L('担当者の状態', 'Members by state'), L('本日 応答/放棄', 'Today answered/abandoned'), L('サービスレベル', 'Service level')],
        (queues.queues || []).map((q, i) => {
          const day = histories[i]?.intervals?.[0] || {};
          const counts = q.live?.counts || {};
          return [
            q.name, q.live?.waiting ?? 0, duration(q.live?.longest_wait_ms || 0),
            h('span', {}, Object.entries(counts).filter(([, n]) => n > 0).map(([st, n]) => [badge(`${stateName(st)} ${n}`, st), ' '])),
            `${day.answered ?? 0} / ${day.abandoned ?? 0}`, percent(day.service_level ?? null),
          ];
        }),
        { empty: L('着信キューはありません', 'No queues') }),
      h('h2', {}, L('通話中の呼', 'Calls in progress')),
      table([L('開始', 'Started'), L('発信者', 'Caller'), L('着信番号', 'To'), L('状態', 'State'), L('シナリオ', 'Scenario')],
        liveCalls.map((c) => [dateTime(c.started_unix_ms ?? c.started ?? c.start), c.caller ?? c.from ?? '—', c.did ?? c.callee ?? c.to ?? '—', c.state ?? '—', c.scenario ? `${c.scenario}${c.version ? ` v${c.version}` : ''}` : '—']),
        { empty: L('現在、通話はありません', 'No calls right now') }),
      live && Array.isArray(live.scenarios) && live.scenarios.length
        ? [h('h2', {}, L('公開中のシナリオ', 'Live scenarios')),
          table([L('着信番号', 'DID'), L('シナリオ', 'Scenario'), L('版', 'Version')], live.scenarios.map((s) => [s.did, s.scenario, `v${s.version}`]))]
        : null,
    );
    stamp.textContent = `${L('更新', 'Updated')}: ${dateTime(Date.now())}`;
  };
  load().catch((e) => fill(body, h('p', { class: 'error' }, e.message)));
  const timer = setInterval(() => load().catch(() => {}), 5000);
  return () => {
    stopped = true;
    clearInterval(timer);
  };
}
