// Audit log: filter by period, who, action (exact, or a prefix ending in "."), object; read
// newest first, page by page. Nothing here can change or delete an entry (no API can).
import { h, fill, table, field } from '../js/dom.js';
import { api } from '../js/api.js';
import { L } from '../js/i18n.js';
import { dateTime } from '../js/fmt.js';

const ACTIONS = {
  login: ['ログイン', 'login'], 'login-failed': ['ログイン失敗', 'failed login'], 'login-locked': ['ログインのロック', 'login locked'],
  logout: ['ログアウト', 'logout'], denied: ['権限なしで拒否', 'denied'],
  'recording.search': ['録音の検索', 'recording search'], 'recording.view': ['録音情報の閲覧', 'recording viewed'],
  'recording.listen': ['録音の再生', 'recording listened'], 'recording.download': ['録音のダウンロード', 'recording downloaded'],
  'recording.delete': ['録音の削除', 'recording deleted'], 'recording.purge': ['録音の保存期間切れ削除', 'recording purged'],
  'scenario.upload': ['シナリオの登録', 'scenario uploaded'], 'scenario.publish': ['シナリオの公開', 'scenario published'],
  'scenario.rollback': ['シナリオのロールバック', 'scenario rolled back'], 'prompt.upload': ['ガイダンスの登録', 'prompt uploaded'],
  'plugin.upload': ['プラグインの登録', 'plugin uploaded'], 'plugin.remove': ['プラグインの削除', 'plugin removed'],
  'queue.member': ['キュー担当者の操作', 'queue member'], 'console-user.add': ['ユーザーの追加', 'console user added'],
  'console-user.change': ['ユーザーの変更', 'console user changed'], 'token.create': ['トークンの発行', 'token created'],
};

export function actionName(a) {
  const n = ACTIONS[a];
  return n ? `${L(n[0], n[1])} (${a})` : a;
}

export function render(root, ctx) {
  const q = new URLSearchParams(ctx.arg || '');
  const from = h('input', { type: 'date', id: 'audit-from', value: q.get('from') || '' });
  const to = h('input', { type: 'date', id: 'audit-to', value: q.get('to') || '' });
  const user = h('input', { id: 'audit-user', size: 14, value: q.get('user') || '' });
  const action = h('input', { id: 'audit-action', size: 18, list: 'audit-actions', value: q.get('action') || '' });
  const object = h('input', { id: 'audit-object', size: 24, value: q.get('object') || '' });
  const list = h('datalist', { id: 'audit-actions' }, Object.keys(ACTIONS).map((a) => h('option', { value: a })), h('option', { value: 'recording.' }), h('option', { value: 'scenario.' }));
  const out = h('div', { id: 'audit-results' });
  let items = [];
  let next = null;
  const load = async (more) => {
    const query = { limit: 100, from: from.value, to: to.value, user: user.value.trim(), action: action.value.trim(), object: object.value.trim() };
    if (more && next) query.cursor = next;
    const res = await api('GET', '/audit', null, query);
    items = more ? items.concat(res.items || []) : res.items || [];
    next = res.next || null;
    fill(out,
      table([L('日時', 'When'), L('誰が', 'Who'), L('操作', 'Action'), L('対象', 'Object'), L('接続元', 'From'), L('詳細', 'Detail')],
        items.map((a) => [dateTime(a.at || a.at_unix_ms), a.who, actionName(a.action), h('span', { class: 'mono' }, a.object || ''), a.source || '—',
          a.detail && Object.keys(a.detail).length ? h('code', {}, JSON.stringify(a.detail)) : '']),
        { empty: L('該当する記録はありません', 'No entries'), cls: 'grid audit' }),
      next ? h('div', { class: 'actions' }, h('button', { onclick: () => load(true).catch(show) }, L('さらに表示', 'More'))) : null);
  };
  const show = (e) => fill(out, h('p', { class: 'error' }, e.message));
  fill(root, h('h1', {}, L('監査ログ', 'Audit log')),
    h('form', { class: 'filters', onsubmit: (e) => { e.preventDefault(); load(false).catch(show); } },
      field(L('開始日', 'From'), from), field(L('終了日', 'To'), to), field(L('誰が', 'Who'), user),
      field(L('操作', 'Action'), action, L('「recording.」で前方一致', '"recording." matches a prefix')), field(L('対象 (部分一致)', 'Object (contains)'), object), list,
      h('button', { type: 'submit', class: 'primary', id: 'audit-search' }, L('検索', 'Search'))),
    out);
  load(false).catch(show);
}
