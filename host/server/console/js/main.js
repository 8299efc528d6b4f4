// The console's shell: session check, login, navigation (hash routes, #/page/arg), the
// language and era switches, and the page modules. Each page module exports
// `render(root, ctx)`; it may return a function called when the page is left (timers).
import { h, fill } from './dom.js';
import { api, setCsrf, whenUnauthorized } from './api.js';
import { L, lang, setLang } from './i18n.js';
import { era, setEra } from './fmt.js';
import * as login from '../pages/login.js';
import * as dashboard from '../pages/dashboard.js';
import * as calls from '../pages/calls.js';
import * as recordings from '../pages/recordings.js';
import * as scenarios from '../pages/scenarios.js';
import * as prompts from '../pages/prompts.js';
import * as hours from '../pages/hours.js';
import * as users from '../pages/users.js';
import * as queues from '../pages/queues.js';
import * as audit from '../pages/audit.js';

const PAGES = [
  { id: 'dashboard', page: dashboard, ja: 'ダッシュボード', en: 'Dashboard' },
  { id: 'calls', page: calls, ja: '通話', en: 'Calls' },
  { id: 'recordings', page: recordings, ja: '録音', en: 'Recordings', need: 'recordings-read' },
  { id: 'scenarios', page: scenarios, ja: 'シナリオ', en: 'Scenarios' },
  { id: 'prompts', page: prompts, ja: '音声ガイダンス', en: 'Prompts' },
  { id: 'hours', page: hours, ja: '受付時間・休日', en: 'Hours & holidays' },
  { id: 'users', page: users, ja: 'ユーザー・端末', en: 'Users & devices' },
  { id: 'queues', page: queues, ja: '着信キュー', en: 'Queues' },
  { id: 'audit', page: audit, ja: '監査ログ', en: 'Audit log', need: 'audit-read' },
];

const app = document.getElementById('app');
let session = null;
let leave = null;

export function can(permission) {
  if (!session) return false;
  if (session.role === 'admin') return true;
  return Array.isArray(session.permissions) ? session.permissions.includes(permission) : false;
}

function route() {
  const raw = location.hash.replace(/^#\/?/, '');
  const [id, ...rest] = raw.split('/');
  return { id: id || 'dashboard', arg: rest.map(decodeURIComponent).join('/') || null };
}

export function go(id, arg) {
  location.hash = `#/${id}${arg ? `/${encodeURIComponent(arg)}` : ''}`;
}

function header() {
  const { id } = route();
  return h('header', { class: 'top' },
    h('div', { class: 'brand' }, h('strong', {}, L('窓口', 'madoguchi')), h('span', {}, L('管理コンソール', 'console'))),
    h('nav', { class: 'main', 'aria-label': L('メニュー', 'Menu') },
      PAGES.filter((p) => !p.need || can(p.need)).map((p) =>
        h('a', { href: `#/${p.id}`, class: p.id === id ? 'active' : '', 'data-page': p.id }, L(p.ja, p.en)))),
    h('div', { class: 'who' },
      eraSelect(),
      h('button', { class: 'link', id: 'lang', onclick: () => { setLang(lang() === 'ja' ? 'en' : 'ja'); render(); } },
        lang() === 'ja' ? 'English' : '日本語'),
      h('span', { class: 'user', id: 'current-user' }, `${session.user} (${roleName(session.role)})`),
      h('button', { class: 'link', id: 'logout', onclick: logout }, L('ログアウト', 'Log out'))),
  );
}

function eraSelect() {
  const sel = h('select', { 'aria-label': L('年の表示', 'Year style'), id: 'era', onchange: (e) => { setEra(e.target.value); render(); } },
    h('option', { value: 'seireki' }, L('西暦', 'Gregorian')),
    h('option', { value: 'wareki' }, L('和暦', 'Japanese era')));
  sel.value = era();
  return sel;
}

export function roleName(role) {
  const names = {
    admin: ['管理者', 'admin'], supervisor: ['監督者', 'supervisor'], operator: ['運用担当', 'operator'],
    auditor: ['監査担当', 'auditor'], viewer: ['閲覧者', 'viewer'],
  };
  const n = names[role];
  return n ? L(n[0], n[1]) : role;
}

async function logout() {
  try {
    await api('POST', '/logout');
  } catch {
    /* the session may already be gone */
  }
  session = null;
  setCsrf(null);
  showLogin(L('ログアウトしました。', 'You have logged out.'), 'info');
}

function showLogin(message, kind = 'error') {
  if (leave) leave();
  leave = null;
  session = null;
  login.render(app, {
    message,
    kind,
    done: (s) => {
      session = s;
      setCsrf(s.csrf);
      if (!location.hash || location.hash === '#/login') location.hash = '#/dashboard';
      render();
    },
  });
}

function render() {
  if (!session) return;
  if (leave) {
    try {
      leave();
    } catch {
      /* ignore */
    }
  }
  leave = null;
  const r = route();
  const entry = PAGES.find((p) => p.id === r.id) || PAGES[0];
  const main = h('main', { id: 'page', 'data-page': entry.id });
  fill(app, header(), main);
  document.title = `${L(entry.ja, entry.en)} — ${L('窓口 管理コンソール', 'madoguchi console')}`;
  const ctx = { arg: r.arg, session, can, go, refresh: render };
  try {
    const out = entry.page.render(main, ctx);
    Promise.resolve(out).then((cleanup) => {
      if (typeof cleanup === 'function') leave = cleanup;
    }).catch((e) => showError(main, e));
  } catch (e) {
    showError(main, e);
  }
}

export function showError(el, e) {
  el.append(h('p', { class: 'error', role: 'alert' }, `${L('エラー', 'Error')}: ${e.message || e}`));
}

whenUnauthorized((body) => {
  if (!session) return;
  showLogin(body && body.expired
    ? L('セッションの有効期限が切れました。もう一度ログインしてください。', 'Your session has expired. Please log in again.')
    : L('ログインが必要です。', 'Please log in.'));
});

window.addEventListener('hashchange', () => {
  if (session) render();
});

(async () => {
  try {
    const s = await api('GET', '/session', null, {}, { quiet401: true });
    if (s && s.kind !== 'token') {
      session = s;
      setCsrf(s.csrf);
      render();
      return;
    }
  } catch (e) {
    if (e.body && e.body.expired) {
      showLogin(L('セッションの有効期限が切れました。もう一度ログインしてください。', 'Your session has expired. Please log in again.'));
      return;
    }
  }
  showLogin(null);
})();
