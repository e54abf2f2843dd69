// A time series chart on uPlot (served from its npm package). Created once per data set, resized with its box,
// destroyed when the component goes away.
import uPlot from 'uplot';
import { html, useEffect, useRef } from './html.js';

const short = new Intl.NumberFormat('en-US', { notation: 'compact', maximumSignificantDigits: 3 });
export const compact = (v) => short.format(v);

const COLORS = ['#0b57d0', '#b3261e', '#146c2e', '#8e4ec6', '#b06000', '#00696f'];

/**
 * `times` in ms; `series` = [{ label, values }] (null for a gap); `format(v)` labels the legend, `axis(v)` the
 * y axis (short: compact numbers by default).
 */
export function Chart({ id, title, times, series, format = (v) => String(v), axis = compact, note }) {
  const box = useRef(null);
  useEffect(() => {
    const el = box.current;
    const width = () => Math.max(280, el.clientWidth);
    const plot = new uPlot(
      {
        width: width(),
        height: 180,
        series: [
          {},
          ...series.map((s, i) => ({
            label: s.label,
            stroke: COLORS[i % COLORS.length],
            width: 1.5,
            spanGaps: false,
            value: (_, v) => (v == null ? '—' : format(v)),
          })),
        ],
        axes: [{}, { values: (_, ticks) => ticks.map(axis), size: 60 }],
        scales: { x: { time: true } },
        legend: { live: true },
      },
      [times.map((t) => t / 1000), ...series.map((s) => s.values)],
      el,
    );
    const resize = new ResizeObserver(() => plot.setSize({ width: width(), height: 180 }));
    resize.observe(el);
    return () => {
      resize.disconnect();
      plot.destroy();
    };
  }, [times, series]);
  return html`<figure class="chart" id=${id}>
    <figcaption>${title}${note ? html` <span class="muted">${note}</span>` : null}</figcaption>
    <div ref=${box} role="img" aria-label=${`${title}: ${series.map((s) => s.label).join(', ')} over time`}></div>
  </figure>`;
}
