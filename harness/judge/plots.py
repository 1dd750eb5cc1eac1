"""Draw the report's plots as inline SVG in pure Python: strip plots of samples, line plots over time, and a series'
staircase as a waterfall.

Every piece is built with ``markupsafe.Markup.format``, which escapes each argument, so a variant name shows as
text wherever it lands and the returned ``Markup`` goes into the jinja2 template as is.
"""

import math

from markupsafe import Markup

from harness.judge.stats import lower_quartile

PALETTE = ("#4e79a7", "#f28e2b", "#59a14f", "#e15759", "#b07aa1", "#76b7b2", "#edc948", "#9c755f", "#ff9da7")
LEFT, RIGHT, TOP, BOTTOM = 60, 12, 26, 40
GOLDEN = 0.618034


def colors(names):
    """A colour per variant, stable across every plot of the page."""
    return {n: PALETTE[i % len(PALETTE)] for i, n in enumerate(names)}


def ticks(lo, hi, count=5):
    """Round tick values whose first and last cover [lo, hi]."""
    if hi - lo < 1e-12:
        pad = abs(lo) * 0.05 or 1.0
        lo, hi = lo - pad, hi + pad
    raw = (hi - lo) / count
    mag = 10 ** math.floor(math.log10(raw))
    step = next(m * mag for m in (1, 2, 5, 10) if m * mag >= raw * (1 - 1e-9))
    first = math.floor(lo / step + 1e-9) * step
    return [round(first + i * step, 12) for i in range(math.ceil((hi - first) / step - 1e-9) + 1)]


def _scale(d0, d1, r0, r1):
    return lambda v: r0 + (v - d0) / (d1 - d0) * (r1 - r0)


def _short(name, width):
    return name if len(name) <= width else name[:width - 1] + "…"


def _svg(width, height, label, body):
    head = Markup('<svg xmlns="http://www.w3.org/2000/svg" width="{0}" height="{1}" viewBox="0 0 {0} {1}" '
                  'role="img" aria-label="{2}" font-family="system-ui, sans-serif" font-size="11">'
                  '<title>{2}</title>').format(width, height, label)
    return head + body + Markup("</svg>")


def _frame(width, height, title, ylabel, yt, y, xlabel="", xt=(), x=None):
    """Title, horizontal grid with y tick labels, optional x ticks, and the axis labels."""
    out = Markup('<text x="{}" y="15" font-weight="600" font-size="12">{}</text>').format(LEFT, title)
    for t in yt:
        out += Markup('<line x1="{0}" x2="{1}" y1="{2:.1f}" y2="{2:.1f}" stroke="#e3e3e3"/>'
                      '<text x="{3}" y="{2:.1f}" dy="0.32em" text-anchor="end" fill="#555">{4:g}</text>'
                      ).format(LEFT, width - RIGHT, y(t), LEFT - 5, t)
    for t in xt:
        out += Markup('<line x1="{0:.1f}" x2="{0:.1f}" y1="{1}" y2="{2}" stroke="#999"/>'
                      '<text x="{0:.1f}" y="{3}" text-anchor="middle" fill="#555">{4:g}</text>'
                      ).format(x(t), height - BOTTOM, height - BOTTOM + 4, height - BOTTOM + 15, t)
    out += Markup('<line x1="{0}" x2="{1}" y1="{2}" y2="{2}" stroke="#999"/>'
                  '<text transform="translate(13 {3:.1f}) rotate(-90)" text-anchor="middle">{4}</text>'
                  ).format(LEFT, width - RIGHT, height - BOTTOM, (TOP + height - BOTTOM) / 2, ylabel)
    if xlabel:
        out += Markup('<text x="{:.1f}" y="{}" text-anchor="middle">{}</text>').format(
            (LEFT + width - RIGHT) / 2, height - 6, xlabel)
    return out


def strip(title, ylabel, groups, palette):
    """Strip plot, one strip per ``(variant, measured, warm-up)``: dots, hollow diamonds for warm-up, a bar at the
    lower quartile (what is compared)."""
    width, height = max(228, LEFT + RIGHT + 78 * len(groups)), 230
    values = [v for _, measured, warm in groups for v in measured + warm]
    pad = (max(values) - min(values)) * 0.05
    yt = ticks(min(values) - pad, max(values) + pad)
    y = _scale(yt[0], yt[-1], height - BOTTOM, TOP)
    slot = (width - LEFT - RIGHT) / len(groups)
    body = _frame(width, height, title, ylabel, yt, y)
    for i, (name, measured, warm) in enumerate(groups):
        cx, colour = LEFT + slot * (i + 0.5), palette[name]
        for j, v in enumerate(measured):
            body += Markup('<circle cx="{:.1f}" cy="{:.1f}" r="3.2" fill="{}" fill-opacity="0.75"/>').format(
                cx + ((j * GOLDEN) % 1 - 0.5) * slot * 0.45, y(v), colour)
        for j, v in enumerate(warm):
            body += Markup('<path d="M{0:.1f} {1:.1f}l4 4-4 4-4-4z" fill="white" stroke="#777"/>').format(
                cx + ((j * GOLDEN) % 1 - 0.5) * slot * 0.45, y(v) - 4)
        if measured:
            q1 = lower_quartile(measured)
            body += Markup('<line x1="{0:.1f}" x2="{1:.1f}" y1="{2:.1f}" y2="{2:.1f}" stroke="#222" stroke-width="2">'
                           '<title>Q1 {3:.4f}</title></line>').format(cx - slot * 0.3, cx + slot * 0.3, y(q1), q1)
        body += Markup('<text x="{:.1f}" y="{}" text-anchor="middle" fill="{}"><title>{}</title>{}</text>').format(
            cx, height - BOTTOM + 15, colour, name, _short(name, 12))
    return _svg(width, height, title, body)


def lines(title, xlabel, ylabel, series, palette, steps=False, markers=False):
    """Line plot of ``(variant, label, [(x, y), ...])`` series on shared axes, legend on the right; ``steps`` holds
    each value until the next point (a quantity that jumps), ``markers`` dots every point."""
    legend_w = 190
    width, height = 780, 300
    xs = [p[0] for _, _, pts in series for p in pts]
    ys = [p[1] for _, _, pts in series for p in pts]
    xt, yt = ticks(0.0, max(xs)), ticks(min(ys), max(ys))
    x = _scale(xt[0], xt[-1], LEFT, width - RIGHT - legend_w)
    y = _scale(yt[0], yt[-1], height - BOTTOM, TOP)
    body = _frame(width - legend_w, height, title, ylabel, yt, y, xlabel, xt, x)
    for i, (name, label, pts) in enumerate(series):
        drawn = _steps(pts) if steps else pts
        body += Markup('<polyline points="{}" fill="none" stroke="{}" stroke-width="1.8"/>').format(
            " ".join(f"{x(a):.1f},{y(b):.1f}" for a, b in drawn), palette[name])
        for a, b in pts if markers else ():
            body += Markup('<circle cx="{:.1f}" cy="{:.1f}" r="3" fill="{}"><title>{:g}: {:.4f}</title></circle>'
                           ).format(x(a), y(b), palette[name], a, b)
        ly = TOP + 8 + 18 * i
        body += Markup('<line x1="{0}" x2="{1}" y1="{2}" y2="{2}" stroke="{3}" stroke-width="3"/>'
                       '<text x="{4}" y="{2}" dy="0.32em"><title>{5}</title>{6}</text>').format(
            width - legend_w + 8, width - legend_w + 28, ly, palette[name], width - legend_w + 34, label,
            _short(label, 26))
    return _svg(width, height, title, body)


def _steps(points):
    """The corners of a step line through ``points``: each y held until the next x."""
    out = list(points[:1])
    for (_, y0), (x1, y1) in zip(points, points[1:]):
        out += [(x1, y0), (x1, y1)]
    return out


def waterfall(title, ylabel, steps, whole):
    """Waterfall of a series' staircase: each step ``(label, tip, start, end, lo, hi, colour)`` (changes in percent
    from the baseline) a bar from where the steps before it left off to where it ends, its interval a whisker at
    its end (``lo``, ``hi``: None without one); then ``whole``, the whole series against the baseline, from 0."""
    bars = [*steps, whole] if whole else list(steps)
    width, height = max(260, LEFT + RIGHT + 64 * len(bars)), 240
    values = [0.0, *(v for b in bars for v in b[2:6] if v is not None)]
    yt = ticks(min(values), max(values))
    y = _scale(yt[0], yt[-1], height - BOTTOM, TOP)
    slot = (width - LEFT - RIGHT) / len(bars)
    body = _frame(width, height, title, ylabel, yt, y)
    body += Markup('<line x1="{0}" x2="{1}" y1="{2:.1f}" y2="{2:.1f}" stroke="#555"/>').format(LEFT, width - RIGHT,
                                                                                               y(0.0))
    for i, (label, tip, start, end, lo, hi, colour) in enumerate(bars):
        cx = LEFT + slot * (i + 0.5)
        if whole and i == len(bars) - 1:
            body += Markup('<line x1="{0:.1f}" x2="{0:.1f}" y1="{1}" y2="{2}" stroke="#999" stroke-dasharray="3 3"/>'
                           ).format(cx - slot / 2, TOP, height - BOTTOM)
        body += Markup('<rect x="{:.1f}" y="{:.1f}" width="{:.1f}" height="{:.1f}" fill="{}" fill-opacity="0.8">'
                       '<title>{}</title></rect>').format(
            cx - slot * 0.3, y(max(start, end)), slot * 0.6, max(1.0, abs(y(start) - y(end))), colour, tip)
        if lo is not None:
            body += Markup('<path d="M{0:.1f} {1:.1f}V{2:.1f}M{3:.1f} {1:.1f}h8M{3:.1f} {2:.1f}h8" stroke="#222" '
                           'stroke-width="1.4"/>').format(cx, y(lo), y(hi), cx - 4)
        body += Markup('<text x="{:.1f}" y="{}" text-anchor="middle"><title>{}</title>{}</text>').format(
            cx, height - BOTTOM + 15, tip, _short(label, 10))
    return _svg(width, height, title, body)
