// Draws a scenario's node graph as SVG: nodes in columns by their distance from `start`
// (left to right), an arrow for every exit, labelled with the config key that names it
// (menu key, hours state, transfer result); `on_error` exits dashed red.
import { s, h } from './dom.js';
import { L } from './i18n.js';

const W = 178;
const H = 46;
const GX = 250;
const GY = 66;

function edgesOf(name, node) {
  const labels = new Map();
  const walk = (v, key) => {
    if (typeof v === 'string') {
      if (!labels.has(v)) labels.set(v, []);
      labels.get(v).push(key);
    } else if (v && typeof v === 'object' && !Array.isArray(v)) {
      for (const [k, x] of Object.entries(v)) walk(x, k);
    }
  };
  walk(node.config || {}, '');
  const out = [];
  for (const to of node.exits || []) {
    const keys = (labels.get(to) || []).filter((k) => k && k !== 'on_error' && k !== 'fallback');
    out.push({ from: name, to, label: keys.join(','), error: false });
  }
  if (node.on_error && !(node.exits || []).includes(node.on_error)) out.push({ from: name, to: node.on_error, label: 'on_error', error: true });
  return out;
}

export function layout(doc) {
  const nodes = doc.nodes || {};
  const names = Object.keys(nodes);
  const edges = names.flatMap((n) => edgesOf(n, nodes[n]));
  const depth = new Map();
  const queue = [];
  for (const root of [doc.start, doc.fallback]) {
    if (root && nodes[root] && !depth.has(root)) {
      depth.set(root, root === doc.start ? 0 : 1);
      queue.push(root);
    }
  }
  while (queue.length) {
    const n = queue.shift();
    for (const e of edges.filter((x) => x.from === n && !x.error)) {
      if (nodes[e.to] && !depth.has(e.to)) {
        depth.set(e.to, depth.get(n) + 1);
        queue.push(e.to);
      }
    }
  }
  const maxD = Math.max(0, ...depth.values());
  for (const n of names) if (!depth.has(n)) depth.set(n, maxD + 1);
  const cols = [];
  for (const n of names) {
    const d = depth.get(n);
    (cols[d] ||= []).push(n);
  }
  // Fewer crossings: order each column by the mean row of the nodes pointing into it.
  const rowOf = new Map();
  (cols[0] || []).forEach((n, r) => rowOf.set(n, r));
  for (let c = 1; c < cols.length; c += 1) {
    const col = cols[c] || [];
    const score = (n) => {
      const from = edges.filter((e) => e.to === n && depth.get(e.from) < c).map((e) => rowOf.get(e.from) ?? 0);
      return from.length ? from.reduce((a, b) => a + b, 0) / from.length : 1e6;
    };
    const scored = col.map((n, i) => [score(n), i, n]).sort((a, b) => a[0] - b[0] || a[1] - b[1]);
    cols[c] = scored.map((x) => x[2]);
    cols[c].forEach((n, r) => rowOf.set(n, r));
  }
  const pos = new Map();
  cols.forEach((col, c) => (col || []).forEach((n, r) => pos.set(n, { x: 20 + c * GX, y: 40 + r * GY })));
  const rows = Math.max(1, ...cols.map((c) => (c || []).length));
  return { nodes, edges, pos, width: 40 + cols.length * GX, height: 60 + rows * GY };
}

export function drawGraph(doc) {
  const { nodes, edges, pos, width, height } = layout(doc);
  const svg = s('svg', { width, height, viewBox: `0 0 ${width} ${height}`, id: 'scenario-graph', role: 'img', 'aria-label': L('ノードの構成図', 'Node graph') });
  svg.append(s('defs', {},
    s('marker', { id: 'g-arrow', viewBox: '0 0 10 10', refX: 9, refY: 5, markerWidth: 7, markerHeight: 7, orient: 'auto-start-reverse' }, s('path', { d: 'M0,0 L10,5 L0,10 z', fill: '#5b6675' })),
    s('marker', { id: 'g-arrow-err', viewBox: '0 0 10 10', refX: 9, refY: 5, markerWidth: 7, markerHeight: 7, orient: 'auto-start-reverse' }, s('path', { d: 'M0,0 L10,5 L0,10 z', fill: '#b3261e' }))));
  const edgeLayer = s('g', { class: 'edges' });
  const nodeLayer = s('g', { class: 'nodes' });
  svg.append(edgeLayer, nodeLayer);
  edges.forEach((e, i) => {
    const a = pos.get(e.from);
    const b = pos.get(e.to);
    if (!a || !b) return;
    let d;
    let lx;
    let ly;
    if (b.x > a.x) {
      const x1 = a.x + W; const y1 = a.y + H / 2; const x2 = b.x; const y2 = b.y + H / 2;
      const mx = (x1 + x2) / 2;
      d = `M${x1},${y1} C${mx},${y1} ${mx},${y2} ${x2 - 2},${y2}`;
      lx = x2 - 58; ly = y2 - 4;
    } else if (e.from === e.to) {
      const x = a.x + W - 30; const y = a.y;
      d = `M${x},${y} C${x},${y - 30} ${x + 40},${y - 30} ${x + 30},${y + 2}`;
      lx = x + 6; ly = y - 24;
    } else {
      // Back or same-column edge: a loop below both boxes.
      const x1 = a.x + W / 2 + 12; const y1 = a.y + H; const x2 = b.x + W / 2 - 12; const y2 = b.y + H;
      const low = Math.max(y1, y2) + 24 + (i % 3) * 8;
      d = `M${x1},${y1} C${x1},${low} ${x2},${low} ${x2},${y2 + 2}`;
      lx = (x1 + x2) / 2; ly = low - 4;
    }
    edgeLayer.append(s('path', { d, fill: 'none', stroke: e.error ? '#b3261e' : '#5b6675', 'stroke-width': 1.3,
      'stroke-dasharray': e.error ? '5 4' : null, 'marker-end': `url(#${e.error ? 'g-arrow-err' : 'g-arrow'})`, 'data-from': e.from, 'data-to': e.to }));
    if (e.label) edgeLayer.append(s('text', { x: lx, y: ly, 'font-size': 10, fill: e.error ? '#b3261e' : '#1d4f91' }, e.label));
  });
  for (const [name, node] of Object.entries(nodes)) {
    const p = pos.get(name);
    const start = name === doc.start;
    const plugin = String(node.plugin || '').split('@')[0];
    nodeLayer.append(s('g', { transform: `translate(${p.x},${p.y})`, class: 'node', 'data-node': name },
      s('rect', { width: W, height: H, rx: 6, fill: start ? '#e8eff9' : '#fff', stroke: start ? '#1d4f91' : '#9aa5b4', 'stroke-width': start ? 2 : 1 }),
      s('text', { x: 10, y: 19, 'font-size': 13, 'font-weight': 600 }, name.length > 22 ? `${name.slice(0, 21)}…` : name),
      s('text', { x: 10, y: 36, 'font-size': 11, fill: '#5b6675' }, plugin)));
  }
  return h('div', { class: 'graph' }, svg);
}
