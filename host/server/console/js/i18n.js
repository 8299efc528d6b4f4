// Japanese first, English second. Strings are written inline as L('日本語', 'English'), so
// a page's two languages sit side by side and neither can be forgotten. The choice is
// kept in localStorage; switching re-renders the page.

const KEY = 'madoguchi.lang';
let current = localStorage.getItem(KEY) === 'en' ? 'en' : 'ja';
document.documentElement.lang = current;

export function lang() {
  return current;
}

export function setLang(l) {
  current = l === 'en' ? 'en' : 'ja';
  localStorage.setItem(KEY, current);
  document.documentElement.lang = current;
}

export function L(ja, en) {
  return current === 'en' && en !== undefined ? en : ja;
}
