// How figures are shown. Cost is an exact decimal string; a call without a price is "unpriced", never $0.

export const fmtMs = (ms) =>
  ms == null ? '—' : ms >= 1000 ? `${(ms / 1000).toFixed(2)} s` : `${Math.round(ms)} ms`;
export const fmtInt = (n) => (n == null ? '—' : Number(n).toLocaleString('en-US'));
export const pct = (v) => (v == null ? '—' : `${(100 * v).toFixed(1)} %`);
export const fmtTime = (iso) => (iso ? new Date(iso).toLocaleString() : '—');
export const fmtClock = (iso) => (iso ? new Date(iso).toLocaleTimeString() : '—');

/** Dollars, from the API's decimal string, to 6 places (4 past $1). */
export function usd(value) {
  const n = Number(value);
  return `$${n.toFixed(Math.abs(n) >= 1 ? 4 : 6)}`;
}

/**
 * The cost of some calls: `unpriced` when none had a price, the priced sum plus how many were not priced when some
 * had none. An event: `fmtCost(e.cost_usd, e.cost_usd == null ? 1 : 0, 1)`.
 */
export function fmtCost(cost, unpriced = 0, calls = undefined) {
  if (cost == null || (calls !== undefined && calls > 0 && unpriced >= calls)) return 'unpriced';
  return unpriced > 0 ? `${usd(cost)} + ${fmtInt(unpriced)} unpriced` : usd(cost);
}

/** An event's cost: its own price, or `unpriced`. */
export const eventCost = (e) =>
  e.cost_usd == null || e.cost_source === 'unpriced' ? 'unpriced' : usd(e.cost_usd);

/** Generation speed after the first token; only for streamed calls (ttft_ms) that report output tokens. */
export const tokensPerSecond = (e) =>
  e.ttft_ms != null && e.output_tokens != null && e.latency_ms > e.ttft_ms
    ? e.output_tokens / ((e.latency_ms - e.ttft_ms) / 1000)
    : null;

export const shortId = (id) => (id ? `${id.slice(0, 8)}…` : '');
