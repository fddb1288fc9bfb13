/** `serial:` a play's hosts in batches of N, or of N% of them; the whole list when unset. */
export function batches<T>(items: T[], serial: number | string | undefined): T[][] {
  if (serial === undefined || items.length === 0) return [items];
  const size = typeof serial === 'string' && serial.endsWith('%')
    ? Math.max(1, Math.floor((items.length * Number(serial.slice(0, -1))) / 100))
    : Math.max(1, Number(serial));
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

