// The login form. A wrong password, a locked source (429) and an expired session each say
// so in words; the password field is cleared, the user name kept.
import { h, fill, field } from '../js/dom.js';
import { api } from '../js/api.js';
import { L, lang, setLang } from '../js/i18n.js';

export function render(root, { message, kind = 'error', done }) {
  const user = h('input', { id: 'login-user', name: 'username', autocomplete: 'username', required: true, autofocus: true });
  const pass = h('input', { id: 'login-password', name: 'password', type: 'password', autocomplete: 'current-password', required: true });
  const msg = h('p', { id: 'login-message', class: message ? kind : 'hidden', role: 'alert' }, message || '');
  const button = h('button', { type: 'submit', id: 'login-submit', class: 'primary' }, L('ログイン', 'Log in'));
  const form = h('form', {
    class: 'login',
    onsubmit: async (e) => {
      e.preventDefault();
      button.disabled = true;
      msg.className = 'info';
      msg.textContent = L('確認しています…', 'Checking…');
      try {
        const s = await api('POST', '/login', { user: user.value.trim(), password: pass.value }, {}, { quiet401: true });
        done(s);
      } catch (err) {
        pass.value = '';
        msg.className = 'error';
        if (err.status === 401) {
          msg.textContent = L('ユーザー名またはパスワードが違います。', 'Wrong user name or password.');
        } else if (err.status === 429) {
          const wait = err.body && err.body.retry_after_s;
          msg.textContent = L(
            `ログインの失敗が続いたため、一時的にロックされています。${wait ? `${Math.ceil(wait / 60)}分後に` : 'しばらくしてから'}もう一度お試しください。`,
            `Too many failed logins: locked for now. Try again ${wait ? `in ${Math.ceil(wait / 60)} min` : 'later'}.`);
        } else {
          msg.textContent = `${L('ログインできませんでした', 'Could not log in')}: ${err.message}`;
        }
        pass.focus();
      } finally {
        button.disabled = false;
      }
    },
  },
  h('h1', {}, L('窓口 管理コンソール', 'madoguchi console')),
  h('p', { class: 'sub' }, L('マイナンバーカード専用ダイヤル 運用管理', 'IVR and PBX administration')),
  msg,
  field(L('ユーザー名', 'User name'), user),
  field(L('パスワード', 'Password'), pass),
  button,
  h('p', { class: 'switch' }, h('button', { type: 'button', class: 'link', onclick: () => { setLang(lang() === 'ja' ? 'en' : 'ja'); render(root, { message: null, done }); } }, lang() === 'ja' ? 'English' : '日本語')),
  );
  fill(root, h('div', { class: 'login-wrap' }, form));
  user.focus();
}
