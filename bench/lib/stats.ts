/** The arithmetic of the benchmark: summaries of repeated runs and the ratios between tools. */

export interface Summary {
  /** Seconds, rounded to milliseconds. */
  median: number;
  min: number;
  max: number;
}

/** The median: the middle value, or the mean of the two middle ones. */
export function median(values: readonly number[]): number {
  if (values.length === 0) throw new Error('median of no values');
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

export const round3 = (n: number): number => Math.round(n * 1000) / 1000;
export const round2 = (n: number): number => Math.round(n * 100) / 100;

export function summarize(seconds: readonly number[]): Summary {
  return { median: round3(median(seconds)), min: round3(Math.min(...seconds)), max: round3(Math.max(...seconds)) };
}

/**
 * How many times longer the peer takes than Flight, from the medians: 10 means Flight is ten times
 * faster, below 1 means the peer is faster (as the floor script is meant to be).
 */
export function ratio(peer: Summary, flight: Summary): number {
  return flight.median > 0 ? round2(peer.median / flight.median) : Number.POSITIVE_INFINITY;
}
