// A line diff (longest common subsequence) of two texts, for comparing scenario versions.
// Bounded: documents past 4000 lines each are compared by their first 4000.

export function diffLines(a, b) {
  const A = a.split('\n').slice(0, 4000);
  const B = b.split('\n').slice(0, 4000);
  // Trim the common head and tail first: versions usually differ in a few places.
  let head = 0;
  while (head < A.length && head < B.length && A[head] === B[head]) head += 1;
  let tail = 0;
  while (tail < A.length - head && tail < B.length - head && A[A.length - 1 - tail] === B[B.length - 1 - tail]) tail += 1;
  const a2 = A.slice(head, A.length - tail);
  const b2 = B.slice(head, B.length - tail);
  const n = a2.length;
  const m = b2.length;
  const dp = Array.from({ length: n + 1 }, () => new Uint16Array(m + 1));
  for (let i = n - 1; i >= 0; i -= 1) {
    for (let j = m - 1; j >= 0; j -= 1) {
      dp[i][j] = a2[i] === b2[j] ? dp[i + 1][j + 1] + 1 : Math.max(dp[i + 1][j], dp[i][j + 1]);
    }
  }
  const out = A.slice(0, head).map((t) => ({ op: ' ', t }));
  let i = 0;
  let j = 0;
  while (i < n || j < m) {
    if (i < n && j < m && a2[i] === b2[j]) { out.push({ op: ' ', t: a2[i] }); i += 1; j += 1; }
    else if (j < m && (i >= n || dp[i][j + 1] > dp[i + 1][j])) { out.push({ op: '+', t: b2[j] }); j += 1; }
    else { out.push({ op: '-', t: a2[i] }); i += 1; }
  }
  return out.concat(A.slice(A.length - tail).map((t) => ({ op: ' ', t })));
}

/// Keeps `context` unchanged lines around each change; folds the rest into "…".
export function hunks(lines, context = 3) {
  const keep = new Array(lines.length).fill(false);
  lines.forEach((l, i) => {
    if (l.op !== ' ') for (let k = Math.max(0, i - context); k <= Math.min(lines.length - 1, i + context); k += 1) keep[k] = true;
  });
  const out = [];
  let skipped = 0;
  lines.forEach((l, i) => {
    if (keep[i]) {
      if (skipped) out.push({ op: '…', t: `… ${skipped}` });
      skipped = 0;
      out.push(l);
    } else skipped += 1;
  });
  if (skipped) out.push({ op: '…', t: `… ${skipped}` });
  return out;
}
