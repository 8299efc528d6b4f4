// Prompts: every stored prompt with the words it says, played in the page; upload a WAV
// (the server converts and checks it, and refuses what is not audio, with the reason).
import { h, fill, table, field } from '../js/dom.js';
import { api } from '../js/api.js';
import { L } from '../js/i18n.js';
import { dateTime, duration, bytes } from '../js/fmt.js';

export async function render(root, ctx) {
  const list = await api('GET', '/prompts');
  const player = h('audio', { id: 'prompt-audio', controls: true, preload: 'none' });
  const nowPlaying = h('span', { id: 'prompt-playing', class: 'muted' });
  const id = h('input', { id: 'prompt-id', size: 20, pattern: '[a-z0-9][a-z0-9-]*', placeholder: 'greeting' });
  const text = h('input', { id: 'prompt-text', size: 60, placeholder: L('このガイダンスが話す言葉', 'The words it says') });
  const file = h('input', { id: 'prompt-file', type: 'file', accept: 'audio/wav,.wav' });
  const msg = h('div', { id: 'prompt-result' });
  const upload = async (e) => {
    e.preventDefault();
    fill(msg);
    try {
      if (!id.value.trim() || !file.files[0]) throw new Error(L('ID と WAV ファイルを指定してください。', 'Give an id and a WAV file.'));
      const body = new Blob([await file.files[0].arrayBuffer()], { type: 'audio/wav' });
      const res = await api('POST', `/prompts/${encodeURIComponent(id.value.trim())}`, body, { text: text.value.trim() });
      fill(msg, h('p', { class: 'ok' }, L(`「${res.id}」を登録しました (${duration(res.duration_ms)})`, `Uploaded "${res.id}" (${duration(res.duration_ms)})`)));
      setTimeout(() => ctx.refresh(), 800);
    } catch (err) {
      fill(msg, h('p', { class: 'error', role: 'alert' }, `${L('登録できません', 'Refused')}: ${err.message}`));
    }
  };
  fill(root, h('h1', {}, L('音声ガイダンス', 'Prompts')),
    h('div', { class: 'card actions' }, player, nowPlaying),
    table([L('ID', 'ID'), L('話す言葉', 'Words'), L('長さ', 'Length'), L('サイズ', 'Size'), L('登録', 'Uploaded'), ''],
      list.map((p) => [h('span', { class: 'mono' }, p.id), p.text || '—', duration(p.duration_ms), bytes(p.bytes), `${dateTime(p.uploaded_unix)} ${p.uploaded_by || ''}`,
        h('button', { 'data-prompt': p.id, onclick: () => { player.src = `/api/v1/prompts/${encodeURIComponent(p.id)}/audio`; nowPlaying.textContent = `▶ ${p.id}: ${p.text || ''}`; player.play().catch(() => {}); } }, L('▶ 再生', '▶ Play'))]),
      { empty: L('ガイダンスはありません', 'No prompts') }),
    ctx.can('operate') ? h('form', { class: 'card', onsubmit: upload },
      h('h2', {}, L('ガイダンスの登録 (WAV)', 'Upload a prompt (WAV)')),
      h('div', { class: 'filters' }, field('ID', id), field(L('話す言葉', 'Words'), text), field(L('WAV ファイル', 'WAV file'), file),
        h('button', { type: 'submit', class: 'primary', id: 'prompt-upload' }, L('登録', 'Upload'))),
      h('small', {}, L('同じ ID で登録すると新しい音声に置き換わります。シナリオの版は登録時の音声を使い続けます。', 'The same id replaces the audio; scenario versions keep the audio they were validated with.')),
      msg) : null);
}
