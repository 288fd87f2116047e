/** Small dependency-free SVG charts: lines over an index or time axis, and bars. */

export interface Series {
  name: string;
  points: { x: number; y: number | null }[];
}

const COLORS = ["#2563eb", "#dc2626", "#059669", "#d97706", "#7c3aed", "#0891b2"];

function niceRange(values: number[]): [number, number] {
  if (values.length === 0) return [0, 1];
  let min = Math.min(...values);
  let max = Math.max(...values);
  if (min === max) {
    min -= 0.5;
    max += 0.5;
  }
  const pad = (max - min) * 0.05;
  return [min - pad, max + pad];
}

function fmt(value: number): string {
  if (Number.isInteger(value)) return String(value);
  if (value !== 0 && Math.abs(value) < 0.01) return value.toExponential(1);
  if (Math.abs(value) >= 1000) return value.toFixed(0);
  if (Math.abs(value) >= 10) return value.toFixed(1);
  return value.toFixed(2);
}

export function LineChart({
  title,
  series,
  xLabels,
  height = 180,
  yRange,
}: {
  title: string;
  series: Series[];
  xLabels?: (x: number) => string;
  height?: number;
  yRange?: [number, number];
}) {
  const width = 480;
  const margin = { left: 44, right: 10, top: 10, bottom: 24 };
  const all = series.flatMap((s) => s.points.filter((p) => p.y !== null && Number.isFinite(p.y)));
  if (all.length === 0) {
    return (
      <figure className="chart">
        <figcaption>{title}</figcaption>
        <p className="muted">No data yet.</p>
      </figure>
    );
  }
  const [x0, x1] = niceRange(all.map((p) => p.x));
  const [y0, y1] = yRange ?? niceRange(all.map((p) => p.y as number));
  const sx = (x: number) => margin.left + ((x - x0) / (x1 - x0)) * (width - margin.left - margin.right);
  const sy = (y: number) => margin.top + (1 - (y - y0) / (y1 - y0)) * (height - margin.top - margin.bottom);
  const yTicks = [y0, (y0 + y1) / 2, y1];
  const xs = [...new Set(all.map((p) => p.x))].sort((a, b) => a - b);
  const xTicks = xs.length <= 4 ? xs : [xs[0], xs[Math.floor(xs.length / 2)], xs[xs.length - 1]];
  return (
    <figure className="chart">
      <figcaption>{title}</figcaption>
      <svg viewBox={`0 0 ${width} ${height}`} role="img" aria-label={title}>
        {yTicks.map((y) => (
          <g key={y}>
            <line x1={margin.left} x2={width - margin.right} y1={sy(y)} y2={sy(y)} className="grid" />
            <text x={margin.left - 4} y={sy(y) + 4} textAnchor="end" className="tick">
              {fmt(y)}
            </text>
          </g>
        ))}
        {xTicks.map((x) => (
          <text key={x} x={sx(x)} y={height - 6} textAnchor="middle" className="tick">
            {xLabels ? xLabels(x) : fmt(x)}
          </text>
        ))}
        {series.map((s, i) => {
          const points = s.points.filter((p) => p.y !== null && Number.isFinite(p.y));
          const d = points.map((p, j) => `${j ? "L" : "M"}${sx(p.x).toFixed(1)},${sy(p.y as number).toFixed(1)}`).join("");
          return (
            <g key={s.name}>
              <path d={d} fill="none" stroke={COLORS[i % COLORS.length]} strokeWidth={2} />
              {points.length <= 40 &&
                points.map((p) => (
                  <circle key={p.x} cx={sx(p.x)} cy={sy(p.y as number)} r={2.5} fill={COLORS[i % COLORS.length]}>
                    <title>{`${s.name}: ${fmt(p.y as number)}`}</title>
                  </circle>
                ))}
            </g>
          );
        })}
      </svg>
      {series.length > 1 && (
        <div className="legend">
          {series.map((s, i) => (
            <span key={s.name}>
              <i style={{ background: COLORS[i % COLORS.length] }} /> {s.name}
            </span>
          ))}
        </div>
      )}
    </figure>
  );
}

export function BarChart({ title, bars, height = 160 }: { title: string; bars: { label: string; value: number }[]; height?: number }) {
  const width = 480;
  const margin = { left: 36, right: 8, top: 10, bottom: 28 };
  const max = Math.max(1, ...bars.map((b) => b.value));
  const slot = (width - margin.left - margin.right) / Math.max(1, bars.length);
  const sy = (v: number) => margin.top + (1 - v / max) * (height - margin.top - margin.bottom);
  return (
    <figure className="chart">
      <figcaption>{title}</figcaption>
      {bars.length === 0 ? (
        <p className="muted">No data yet.</p>
      ) : (
        <svg viewBox={`0 0 ${width} ${height}`} role="img" aria-label={title}>
          <text x={margin.left - 4} y={sy(max) + 4} textAnchor="end" className="tick">
            {max}
          </text>
          <line x1={margin.left} x2={width - margin.right} y1={sy(0)} y2={sy(0)} className="grid" />
          {bars.map((bar, i) => (
            <g key={bar.label + i}>
              <rect
                x={margin.left + i * slot + slot * 0.15}
                width={slot * 0.7}
                y={sy(bar.value)}
                height={Math.max(0, sy(0) - sy(bar.value))}
                fill={COLORS[0]}
              >
                <title>{`${bar.label}: ${bar.value}`}</title>
              </rect>
              {(bars.length <= 12 || i % Math.ceil(bars.length / 8) === 0) && (
                <text x={margin.left + i * slot + slot / 2} y={height - 10} textAnchor="middle" className="tick">
                  {bar.label}
                </text>
              )}
            </g>
          ))}
        </svg>
      )}
    </figure>
  );
}

export function ProgressBar({ value, label }: { value: number; label: string }) {
  const pct = Math.round(Math.max(0, Math.min(1, value)) * 100);
  return (
    <div className="progress" role="progressbar" aria-label={label} aria-valuemin={0} aria-valuemax={100} aria-valuenow={pct}>
      <div className="progress-fill" style={{ width: `${pct}%` }} />
      <span className="progress-text">{pct}%</span>
    </div>
  );
}
