// A tiny DOM helper: h('div', {class: 'x', onclick: f}, 'text', child, [more]).
// Text is always set as text (never parsed as HTML), so nothing a caller or an operator
// typed can become markup.

export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith('on') && typeof v === 'function') {
      el.addEventListener(k.slice(2), v);
    } else if (k === 'class') {
      el.className = v;
    } else if (k === 'style' && typeof v === 'object') {
      Object.assign(el.style, v);
    } else if (k === 'dataset') {
      Object.assign(el.dataset, v);
    } else if (k === 'selected' || k === 'checked') {
      // The attribute (defaultSelected/defaultChecked) survives the option being appended.
      el.setAttribute(k, '');
    } else if (k in el && typeof v !== 'string') {
      el[k] = v;
    } else {
      el.setAttribute(k, v === true ? '' : String(v));
    }
  }
  append(el, children);
  return el;
}

export function append(el, children) {
  for (const c of children.flat(Infinity)) {
    if (c === undefined || c === null || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

/// Replaces an element's children.
export function fill(el, ...children) {
  el.replaceChildren();
  return append(el, children);
}

/// SVG elements (namespaced).
export function s(tag, attrs = {}, ...children) {
  const el = document.createElementNS('http://www.w3.org/2000/svg', tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null) continue;
    if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v);
    else el.setAttribute(k, String(v));
  }
  for (const c of children.flat(Infinity)) {
    if (c === undefined || c === null || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

/// A table: headers are strings, rows are arrays of cells (strings or nodes); `onrow(i)`
/// makes rows clickable.
export function table(headers, rows, { onrow, empty, cls } = {}) {
  const body = rows.map((r, i) =>
    h('tr', onrow ? { class: 'clickable', onclick: () => onrow(i), tabindex: 0,
      onkeydown: (e) => { if (e.key === 'Enter') onrow(i); } } : {},
    r.map((c) => h('td', {}, c))),
  );
  return h('table', { class: cls || 'grid' },
    h('thead', {}, h('tr', {}, headers.map((x) => h('th', {}, x)))),
    h('tbody', {}, body.length ? body : h('tr', {}, h('td', { colspan: headers.length, class: 'empty' }, empty || '—'))),
  );
}

/// A labelled form field.
export function field(label, input, hint) {
  return h('label', { class: 'field' }, h('span', { class: 'label' }, label), input, hint ? h('small', {}, hint) : null);
}

export function badge(text, kind = '') {
  return h('span', { class: `badge ${kind}` }, text);
}

/// Downloads text as a file (scenario JSON).
export function saveText(name, text, type = 'application/json') {
  const url = URL.createObjectURL(new Blob([text], { type }));
  const a = h('a', { href: url, download: name });
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}
