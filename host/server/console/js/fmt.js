// Dates and durations in Japanese conventions: Asia/Tokyo, 24-hour clock, 西暦 or 和暦
// (令和) as the console is set (header switch, kept in localStorage; default 西暦).
import { lang, L } from './i18n.js';

const ERA_KEY = 'madoguchi.era';
const TZ = 'Asia/Tokyo';

export function era() {
  return localStorage.getItem(ERA_KEY) === 'wareki' ? 'wareki' : 'seireki';
}

export function setEra(e) {
  localStorage.setItem(ERA_KEY, e === 'wareki' ? 'wareki' : 'seireki');
}

/// Unix ms, Unix s (< 1e11), RFC 3339 string or Date → Date.
export function toDate(x) {
  if (x instanceof Date) return x;
  if (typeof x === 'number') return new Date(x < 1e11 ? x * 1000 : x);
  if (typeof x === 'string' && x) return new Date(x);
  return null;
}

function parts(d, opts) {
  const locale = lang() === 'en' ? 'en-GB' : era() === 'wareki' ? 'ja-JP-u-ca-japanese' : 'ja-JP';
  return new Intl.DateTimeFormat(locale, { timeZone: TZ, hourCycle: 'h23', ...opts }).format(d);
}

/// 2027年1月6日 10:00:00 / 令和9年1月6日 10:00:00 / 6 Jan 2027 10:00:00
export function dateTime(x, { seconds = true } = {}) {
  const d = toDate(x);
  if (!d || Number.isNaN(d.getTime())) return '—';
  const time = { hour: '2-digit', minute: '2-digit', ...(seconds ? { second: '2-digit' } : {}) };
  if (lang() === 'en') return parts(d, { day: 'numeric', month: 'short', year: 'numeric', ...time });
  return parts(d, { ...(era() === 'wareki' ? { era: 'long' } : {}), year: 'numeric', month: 'long', day: 'numeric', ...time });
}

/// 2027年1月6日(水) / 令和9年1月6日(水)
export function dateOnly(x) {
  const d = toDate(x);
  if (!d || Number.isNaN(d.getTime())) return '—';
  if (lang() === 'en') return parts(d, { weekday: 'short', day: 'numeric', month: 'short', year: 'numeric' });
  return parts(d, { ...(era() === 'wareki' ? { era: 'long' } : {}), year: 'numeric', month: 'long', day: 'numeric', weekday: 'short' });
}

/// 2027年1月 / 令和9年1月
export function monthTitle(year, month) {
  const d = new Date(Date.UTC(year, month - 1, 15, 3));
  if (lang() === 'en') return parts(d, { month: 'long', year: 'numeric' });
  return parts(d, { ...(era() === 'wareki' ? { era: 'long' } : {}), year: 'numeric', month: 'long' });
}

/// 10:00:00
export function timeOnly(x) {
  const d = toDate(x);
  if (!d) return '—';
  return parts(d, { hour: '2-digit', minute: '2-digit', second: '2-digit' });
}

/// Today in Japan as YYYY-MM-DD.
export function todayJst(now = new Date()) {
  return new Intl.DateTimeFormat('en-CA', { timeZone: TZ, year: 'numeric', month: '2-digit', day: '2-digit' }).format(now);
}

/// 1分23秒 / 1 min 23 s
export function duration(ms) {
  if (ms === null || ms === undefined || Number.isNaN(ms)) return '—';
  const total = Math.round(ms / 1000);
  const hh = Math.floor(total / 3600);
  const mm = Math.floor((total % 3600) / 60);
  const ss = total % 60;
  if (lang() === 'en') return hh ? `${hh} h ${mm} min ${ss} s` : mm ? `${mm} min ${ss} s` : `${ss} s`;
  return hh ? `${hh}時間${mm}分${ss}秒` : mm ? `${mm}分${ss}秒` : `${ss}秒`;
}

/// m:ss for a player.
export function clock(sec) {
  if (!Number.isFinite(sec)) return '0:00';
  const s = Math.max(0, Math.floor(sec));
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, '0')}`;
}

export function bytes(n) {
  if (n === null || n === undefined) return '—';
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KB`;
  return `${(n / 1024 / 1024).toFixed(1)} MB`;
}

export function percent(x) {
  return x === null || x === undefined ? '—' : `${(x * 100).toFixed(1)}%`;
}

export function yesNo(b) {
  return b ? L('はい', 'yes') : L('いいえ', 'no');
}
