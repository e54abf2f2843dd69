// A waterfall: one bar per span or call, placed by its start and length within the whole; indented by depth.
import { fmtMs } from './format.js';
import { html } from './html.js';

/** `rows`: { key, label, detail, start (ms epoch), duration (ms), ttft?, depth?, current?, critical?, kind?, href? } */
export function Waterfall({ rows, id = 'waterfall', label }) {
  if (!rows.length) return html`<p class="muted" id=${id}>Nothing stored for this trace.</p>`;
  const t0 = Math.min(...rows.map((r) => r.start));
  const total = Math.max(1, ...rows.map((r) => r.start - t0 + r.duration));
  return html`<ol class="waterfall" id=${id} aria-label=${label}>
    ${rows.map((r) => {
      const offset = r.start - t0;
      const name = r.href ? html`<a href=${r.href}>${r.label}</a>` : r.label;
      return html`<li class=${`bar ${r.kind ?? ''}${r.current ? ' current' : ''}${r.critical ? ' critical' : ''}`}
        data-key=${r.key} style=${`--depth:${r.depth ?? 0}`}>
        <span class="bar-label">${r.kind ? html`<span class="kind">${r.kind}</span> ` : null}${name}
          <em> +${fmtMs(offset)} (${fmtMs(r.duration)}${r.ttft != null ? `, first token ${fmtMs(r.ttft)}` : ''})${r.detail ? ` · ${r.detail}` : ''}</em></span>
        <span class="track"><span class="fill" style=${`left:${(100 * offset) / total}%;width:${Math.max(0.5, (100 * r.duration) / total)}%`}>
          ${r.ttft != null && r.duration > 0 ? html`<i class="ttft" style=${`width:${Math.min(100, (100 * r.ttft) / r.duration)}%`}></i>` : null}
        </span></span>
      </li>`;
    })}
  </ol>`;
}
