// Users and devices: console users (add, change role, disable, reset password) and the
// staff extensions with their registered devices, live when the server lists them.
import { h, fill, table, field, badge } from '../js/dom.js';
import { api } from '../js/api.js';
import { L } from '../js/i18n.js';
import { dateTime } from '../js/fmt.js';

const ROLES = ['admin', 'supervisor', 'operator', 'auditor', 'viewer'];

export async function render(root, ctx) {
  const msg = h('div', { id: 'users-message' });
  const consoleEl = h('div', { id: 'console-users' });
  const staffEl = h('div', { id: 'staff-users' });
  const roleName = (r) => ({ admin: L('管理者', 'admin'), supervisor: L('監督者', 'supervisor'), operator: L('運用担当', 'operator'), auditor: L('監査担当', 'auditor'), viewer: L('閲覧者', 'viewer') }[r] || r);
  const done = (text) => fill(msg, h('p', { class: 'ok', role: 'status' }, text));
  const fail = (e) => fill(msg, h('p', { class: 'error', role: 'alert' }, e.message));
  const loadConsole = async () => {
    if (!ctx.can('admin')) {
      fill(consoleEl, h('p', { class: 'muted' }, L('コンソールユーザーの管理には管理者の権限が必要です。', 'Managing console users needs the admin role.')));
      return;
    }
    const res = await api('GET', '/console-users');
    fill(consoleEl, table([L('ユーザー名', 'Name'), L('役割', 'Role'), L('状態', 'State'), L('作成', 'Created'), L('操作', 'Actions')],
      (res.users || []).map((u) => {
        const role = h('select', { 'data-user': u.name, onchange: () => api('PATCH', `/console-users/${encodeURIComponent(u.name)}`, { role: role.value }).then(() => done(L(`${u.name} の役割を変更しました`, `${u.name}: role changed`))).catch(fail) },
          ROLES.map((r) => h('option', { value: r, selected: r === u.role }, roleName(r))));
        return [u.name, role, u.disabled ? badge(L('無効', 'disabled'), 'bad') : badge(L('有効', 'enabled'), 'ok'), dateTime(u.created),
          h('span', { class: 'actions' },
            h('button', { onclick: () => api('PATCH', `/console-users/${encodeURIComponent(u.name)}`, { disabled: !u.disabled }).then(() => { done(u.disabled ? L(`${u.name} を有効にしました`, `${u.name} enabled`) : L(`${u.name} を無効にしました`, `${u.name} disabled`)); return loadConsole(); }).catch(fail) },
              u.disabled ? L('有効にする', 'Enable') : L('無効にする', 'Disable')),
            h('button', { onclick: () => {
              const p = prompt(L(`${u.name} の新しいパスワード (12文字以上)`, `New password for ${u.name} (12+ characters)`));
              if (p) api('PATCH', `/console-users/${encodeURIComponent(u.name)}`, { password: p }).then(() => done(L(`${u.name} のパスワードを再設定しました`, `${u.name}: password reset`))).catch(fail);
            } }, L('パスワード再設定', 'Reset password')))];
      })));
  };
  const name = h('input', { id: 'new-user-name', size: 16, autocomplete: 'off' });
  const role = h('select', { id: 'new-user-role' }, ROLES.map((r) => h('option', { value: r, selected: r === 'viewer' }, roleName(r))));
  const pass = h('input', { id: 'new-user-password', type: 'password', size: 20, autocomplete: 'new-password' });
  const add = async (e) => {
    e.preventDefault();
    try {
      await api('POST', '/console-users', { name: name.value.trim(), role: role.value, password: pass.value });
      done(L(`${name.value.trim()} を追加しました`, `${name.value.trim()} added`));
      name.value = '';
      pass.value = '';
      await loadConsole();
    } catch (err) {
      fail(err);
    }
  };
  const loadStaff = async () => {
    let res;
    try {
      res = await api('GET', '/users');
    } catch (e) {
      if (e.status === 404) {
        fill(staffEl, h('p', { class: 'muted' }, L('このサーバーは内線ユーザーの一覧を API で公開していません (madoguchi user list で確認できます)。', 'This server does not list staff users over the API (see madoguchi user list).')));
        return;
      }
      throw e;
    }
    const users = Array.isArray(res) ? res : res.users || [];
    fill(staffEl, table([L('内線', 'Extension'), L('名前', 'Name'), L('状態', 'State'), L('登録中の端末', 'Registered devices')],
      users.map((u) => [u.user || u.extension || u.name, u.display_name || u.name || '—', u.disabled ? badge(L('無効', 'disabled'), 'bad') : badge(L('有効', 'enabled'), 'ok'),
        (u.devices || u.registrations || []).length
          ? h('ul', {}, (u.devices || u.registrations).map((d) => h('li', { class: 'mono' }, `${d.contact || d.uri || d.address || ''} ${d.user_agent ? `(${d.user_agent})` : ''} ${d.expires_unix || d.expires ? `${L('期限', 'until')} ${dateTime(d.expires_unix || d.expires)}` : ''}`)))
          : h('span', { class: 'muted' }, L('なし', 'none'))]),
      { empty: L('内線ユーザーはいません', 'No staff users') }));
  };
  fill(root, h('h1', {}, L('ユーザー・端末', 'Users and devices')), msg,
    h('h2', {}, L('コンソールユーザー', 'Console users')), consoleEl,
    ctx.can('admin') ? h('form', { class: 'filters', onsubmit: add },
      field(L('ユーザー名', 'Name'), name), field(L('役割', 'Role'), role), field(L('初期パスワード', 'Password'), pass),
      h('button', { type: 'submit', class: 'primary', id: 'new-user-add' }, L('追加', 'Add'))) : null,
    h('h2', {}, L('内線ユーザーと登録中の端末', 'Staff extensions and registered devices')), staffEl);
  await Promise.all([loadConsole().catch(fail), loadStaff().catch((e) => fill(staffEl, h('p', { class: 'error' }, e.message)))]);
  const timer = setInterval(() => loadStaff().catch(() => {}), 10_000);
  return () => clearInterval(timer);
}
