/**
 * A small line diff (LCS) for --diff output. Files Flight writes are config-sized, so the
 * quadratic table is fine; anything over the cap is summarised instead of diffed.
 */
const MAX_CELLS = 4_000_000;

export function unifiedDiff(before: string, after: string, path: string, context = 3): string {
  const a = before === '' ? [] : before.replace(/\n$/, '').split('\n');
  const b = after === '' ? [] : after.replace(/\n$/, '').split('\n');
  const header = `--- ${path} (before)\n+++ ${path} (after)`;
  if (a.length * b.length > MAX_CELLS) return `${header}\n@@ ${a.length} lines -> ${b.length} lines (too large to diff) @@`;
  // lcs[i][j] = length of the LCS of a[i..] and b[j..]
  const lcs: Uint32Array[] = Array.from({ length: a.length + 1 }, () => new Uint32Array(b.length + 1));
  for (let i = a.length - 1; i >= 0; i--)
    for (let j = b.length - 1; j >= 0; j--)
      lcs[i]![j] = a[i] === b[j] ? lcs[i + 1]![j + 1]! + 1 : Math.max(lcs[i + 1]![j]!, lcs[i]![j + 1]!);
  const ops: Array<{ op: ' ' | '-' | '+'; line: string }> = [];
  let i = 0, j = 0;
  while (i < a.length || j < b.length) {
    if (i < a.length && j < b.length && a[i] === b[j]) { ops.push({ op: ' ', line: a[i]! }); i++; j++; }
    else if (i < a.length && (j === b.length || lcs[i + 1]![j]! >= lcs[i]![j + 1]!)) { ops.push({ op: '-', line: a[i]! }); i++; }
    else { ops.push({ op: '+', line: b[j]! }); j++; }
  }
  // Keep changed lines with `context` lines around them.
  const keep = ops.map(() => false);
  ops.forEach((o, k) => {
    if (o.op !== ' ') for (let d = -context; d <= context; d++) if (ops[k + d]) keep[k + d] = true;
  });
  const out = [header];
  let gap = false;
  ops.forEach((o, k) => {
    if (!keep[k]) { gap = true; return; }
    if (gap || out.length === 1) out.push('@@');
    gap = false;
    out.push(`${o.op}${o.line}`);
  });
  return out.join('\n');
}
