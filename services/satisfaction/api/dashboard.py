"""The dashboard page: plain HTML with hand-drawn inline SVG charts and a few lines of inline
script, so it needs nothing from the network but its own service. A shell page holds no
figures; its script fetches them with the supervisor's token. Pure functions of the report
data."""

from __future__ import annotations

from html import escape
from typing import Any

from services.satisfaction.domain.report import ReportPolicy

W, H = 560, 220
COLORS = ["#1a7f37", "#57ab5a", "#9e9e9e", "#d4a72c", "#e16f24", "#c9190b"]  # levels, best first
GOOD, BAD, TARGET = "#1a7f37", "#c9190b", "#0969da"


def pct(value: float | None) -> str:
    return "–" if value is None else f"{value * 100:.1f} %"


def duration(seconds: float | None) -> str:
    if seconds is None:
        return "–"
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    if seconds < 172800:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86400:.1f} d"


def _svg(name: str, body: str, title: str, height: int = H, source: str | None = None) -> str:
    cited = f'<div class="source">Source: {escape(source)}</div>' if source else ""
    return (
        f"<figure><figcaption>{escape(title)}</figcaption>"
        f'<svg data-chart="{name}" viewBox="0 0 {W} {height}" width="{W}" height="{height}" '
        f'role="img" aria-label="{escape(title)}">{body}</svg>{cited}</figure>'
    )


def _no_data(height: int = H) -> str:
    return f'<text class="empty" x="{W / 2}" y="{height / 2}" text-anchor="middle">no data</text>'


def trend_chart(points: list[dict[str, Any]], target: float | None) -> str:
    left, right, top, bottom = 40, 10, 10, 30
    pw, ph = W - left - right, H - top - bottom
    n = max(len(points) - 1, 1)

    def x(i: int) -> float:
        return left + pw * i / n

    def y(v: float) -> float:
        return top + ph * (1 - v)

    parts = [
        f'<line x1="{left}" y1="{y(t)}" x2="{W - right}" y2="{y(t)}" stroke="#ddd"/>'
        f'<text x="{left - 4}" y="{y(t) + 4}" text-anchor="end" font-size="10">{t:.0%}</text>'
        for t in (0, 0.25, 0.5, 0.75, 1)
    ]
    if target is not None:
        parts.append(
            f'<line class="target" x1="{left}" y1="{y(target):.1f}" x2="{W - right}" '
            f'y2="{y(target):.1f}" stroke="{TARGET}" stroke-dasharray="6 4"/>'
            f'<text x="{W - right}" y="{y(target) - 4:.1f}" text-anchor="end" font-size="10" '
            f'fill="{TARGET}">target {target:.0%}</text>'
        )
    known = [
        (i, p["satisfaction_rate"]["value"])
        for i, p in enumerate(points)
        if p["satisfaction_rate"]["value"] is not None
    ]
    if not known:
        parts.append(_no_data())
    else:
        path = " ".join(
            f"{'M' if k == 0 else 'L'}{x(i):.1f},{y(v):.1f}" for k, (i, v) in enumerate(known)
        )
        parts.append(
            f'<path class="mark" d="{path}" fill="none" stroke="{GOOD}" stroke-width="2"/>'
        )
        for i, v in known:
            color = GOOD if target is None or v >= target else BAD
            parts.append(
                f'<circle class="mark" cx="{x(i):.1f}" cy="{y(v):.1f}" r="3" fill="{color}">'
                f"<title>{escape(str(points[i]['period']))}: {pct(v)}</title></circle>"
            )
    if points:
        for i, anchor in ((0, "start"), (len(points) - 1, "end")):
            parts.append(
                f'<text x="{x(i):.1f}" y="{H - 8}" text-anchor="{anchor}" font-size="10">'
                f"{escape(str(points[i]['period']))}</text>"
            )
    return _svg("trend", "".join(parts), "Satisfaction rate per day against target")


def levels_chart(by_level: dict[str, int]) -> str:
    total = sum(by_level.values())
    left, bottom, top = 10, 40, 20
    slot = (W - 2 * left) / max(len(by_level), 1)
    peak = max(by_level.values(), default=0) or 1
    parts = []
    for i, (name, count) in enumerate(by_level.items()):
        height = (H - top - bottom) * count / peak
        x0 = left + i * slot + slot * 0.15
        parts.append(
            f'<rect class="mark" x="{x0:.1f}" y="{H - bottom - height:.1f}" '
            f'width="{slot * 0.7:.1f}" '
            f'height="{max(height, 0.5):.1f}" fill="{COLORS[i % len(COLORS)]}">'
            f"<title>{escape(name)}: {count}</title></rect>"
            f'<text x="{x0 + slot * 0.35:.1f}" y="{H - bottom - height - 4:.1f}" '
            f'text-anchor="middle" font-size="11">{count}</text>'
            f'<text x="{x0 + slot * 0.35:.1f}" y="{H - bottom + 14}" text-anchor="middle" '
            f'font-size="10">{escape(name.replace("_", " "))}</text>'
        )
    if not total:
        parts.append(_no_data())
    return _svg("levels", "".join(parts), f"Answers by level ({total})")


def rate_bars(
    name: str, title: str, rows: list[tuple[str, float | None, int]], target: float | None
) -> str:
    """Horizontal bars of a rate per label, with the target as a dashed line."""
    rows = [r for r in rows if r[1] is not None]
    height = max(60, 26 * len(rows) + 30)
    left, right = 130, 60
    pw = W - left - right
    parts = []
    for i, (label, value, answers) in enumerate(rows):
        y0 = 10 + i * 26
        width = pw * (value or 0)
        color = GOOD if target is None or (value or 0) >= target - 1e-12 else BAD
        parts.append(
            f'<text x="{left - 6}" y="{y0 + 14}" text-anchor="end" font-size="11">'
            f"{escape(label)}</text>"
            f'<rect class="mark" x="{left}" y="{y0}" width="{max(width, 0.5):.1f}" height="18" '
            f'fill="{color}"><title>{escape(label)}: {pct(value)} of {answers}</title></rect>'
            f'<text x="{left + max(width, 0.5) + 4:.1f}" y="{y0 + 14}" font-size="11">'
            f"{pct(value)} ({answers})</text>"
        )
    if not rows:
        parts.append(_no_data(height))
    elif target is not None:
        tx = left + pw * target
        parts.append(
            f'<line class="target" x1="{tx:.1f}" y1="4" x2="{tx:.1f}" y2="{height - 16}" '
            f'stroke="{TARGET}" stroke-dasharray="4 3"/>'
            f'<text x="{tx:.1f}" y="{height - 4}" text-anchor="middle" font-size="10" '
            f'fill="{TARGET}">target {target:.0%}</text>'
        )
    return _svg(name, "".join(parts), title, height)


def count_bars(name: str, title: str, rows: list[tuple[str, int]], color: str = BAD) -> str:
    height = max(60, 26 * len(rows) + 20)
    left, right = 130, 50
    peak = max((n for _, n in rows), default=0) or 1
    parts = []
    for i, (label, count) in enumerate(rows):
        y0 = 10 + i * 26
        width = (W - left - right) * count / peak
        parts.append(
            f'<text x="{left - 6}" y="{y0 + 14}" text-anchor="end" font-size="11">'
            f"{escape(label)}</text>"
            f'<rect class="mark" x="{left}" y="{y0}" width="{max(width, 0.5):.1f}" height="18" '
            f'fill="{color}"><title>{escape(label)}: {count}</title></rect>'
            f'<text x="{left + width + 4:.1f}" y="{y0 + 14}" font-size="11">{count}</text>'
        )
    if not rows:
        parts.append(_no_data(height))
    return _svg(name, "".join(parts), title, height)


Bar = tuple[str, float, str, str]  # label, value, text beside the bar, colour
AMBER, GREY = "#d4a72c", "#9e9e9e"


def bars(
    name: str, title: str, rows: list[Bar], source: str | None = None, peak: float | None = None
) -> str:
    """Horizontal bars, one per row, as long as its value against the largest (or ``peak``),
    with a text beside each."""
    height = max(60, 26 * len(rows) + 20)
    left, right = 170, 130
    top = peak or max((v for _, v, _, _ in rows), default=0) or 1
    parts = []
    for i, (label, value, text, color) in enumerate(rows):
        y0 = 10 + i * 26
        width = (W - left - right) * max(value, 0) / top
        parts.append(
            f'<text x="{left - 6}" y="{y0 + 14}" text-anchor="end" font-size="11">'
            f"{escape(label)}</text>"
            f'<rect class="mark" x="{left}" y="{y0}" width="{max(width, 0.5):.1f}" height="18" '
            f'fill="{color}"><title>{escape(label)}: {escape(text)}</title></rect>'
            f'<text x="{left + max(width, 0.5) + 4:.1f}" y="{y0 + 14}" font-size="11">'
            f"{escape(text)}</text>"
        )
    if not rows:
        parts.append(_no_data(height))
    return _svg(name, "".join(parts), title, height, source)


def stacked(name: str, title: str, rows: list[tuple[str, list[tuple[str, int, str]]]]) -> str:
    """One bar per row split into coloured parts (name, count, colour), with a legend."""
    legend = list(dict.fromkeys((n, c) for _, parts in rows for n, _, c in parts))
    height = max(60, 26 * len(rows) + 44)
    left, right = 120, 20
    peak = max((sum(n for _, n, _ in parts) for _, parts in rows), default=0) or 1
    out = []
    for i, (label, parts) in enumerate(rows):
        y0 = 10 + i * 26
        x = float(left)
        out.append(
            f'<text x="{left - 6}" y="{y0 + 14}" text-anchor="end" font-size="11">'
            f"{escape(label)}</text>"
        )
        for part, count, color in parts:
            if not count:
                continue
            width = (W - left - right) * count / peak
            out.append(
                f'<rect class="mark" x="{x:.1f}" y="{y0}" width="{width:.1f}" height="18" '
                f'fill="{color}"><title>{escape(label)} {escape(part)}: {count}</title></rect>'
            )
            x += width
    for j, (part, color) in enumerate(legend):
        lx = 10 + j * 108
        out.append(
            f'<rect x="{lx}" y="{height - 18}" width="10" height="10" fill="{color}"/>'
            f'<text x="{lx + 14}" y="{height - 9}" font-size="10">{escape(part)}</text>'
        )
    if not rows:
        out.append(_no_data(height))
    return _svg(name, "".join(out), title, height)


def _share(value: float | None) -> float:
    return value or 0.0


def document_charts(o: dict[str, Any]) -> list[str]:
    """The documents' figures applied to the period (each with its source), the factor
    analysis, rejections, expectation against outcome, retention calls, waits."""
    p = o["projection"]
    churn = p["churn_by_level"]
    returns = p["return_rates"]
    pyramid = p["complaint_pyramid"]
    silent = p["silent_customers"]
    fa = o["factor_analysis"]
    factor_rows: list[Bar] = [
        (f"away · {f['factor']}", _share(f["share_of_answers"]),
         f"{pct(f['share_of_answers'])} of {fa['drive_away']['answers']}", BAD)
        for f in fa["drive_away"]["factors"]
    ] + [
        (f"back · {f['factor']}", _share(f["share_of_answers"]),
         f"{pct(f['share_of_answers'])} of {fa['bring_back']['answers']}", GOOD)
        for f in fa["bring_back"]["factors"]
    ]  # fmt: skip
    tier_rows: list[Bar] = []
    for t in fa.get("by_tier", []):
        for band, color in (("drive_away", BAD), ("bring_back", GOOD)):
            for f in t[band]["factors"][:2]:
                word = "away" if band == "drive_away" else "back"
                tier_rows.append(
                    (f"{t['tier']} · {word} · {f['factor']}", _share(f["share_of_answers"]),
                     f"{pct(f['share_of_answers'])} of {t[band]['answers']}", color)
                )  # fmt: skip
    calls = o.get("retention_calls") or {"by_drop": [], "scheduled": 0}
    outcome_colors = {"reached_satisfied": GOOD, "reached_unsatisfied": AMBER,
                      "unreachable": BAD, "cancelled": GREY, "open": TARGET}  # fmt: skip
    rejections = o["rejections"]
    expectation = o["expectation"]["satisfaction"]
    waits = o["waits"]
    return [
        bars("factor-bands", "Factors that drive customers away / bring them back (share of "
             "answers)", factor_rows, fa["source"], peak=1),
        bars("factors-by-tier", "Factors by customer tier, most valuable first", tier_rows,
             peak=1),
        bars("churn", f"Expected churn by level: {churn['expected_lost']:.2f} of "
             f"{churn['answers']} answering customers",
             [(r["level"].replace("_", " "), r["expected_lost"],
               f"{r['answers']} x {r['churn_rate']:.0%} = {r['expected_lost']:.2f}",
               COLORS[i % len(COLORS)]) for i, r in enumerate(churn["levels"])],
             churn["source"]),
        bars("returns", f"Expected to return: {returns['expected_returning']:.1f} "
             f"(complainants {pct(returns['complainant_return_rate'])})",
             [(g["group"].replace("_", " "), g["expected_returning"],
               f"{g['customers']:g} x {g['return_rate']:.0%} = {g['expected_returning']:.2f}",
               GOOD if g["group"] == "resolved_quickly" else TARGET) for g in returns["groups"]],
             f"{returns['source']}; quickly = {returns['quickly']}"),
        bars("pyramid", f"Complaint pyramid ({silent['per_complaint']:g} silent per complaint: "
             f"{silent['estimated_silent_customers']:g})",
             [("reached management", float(pyramid["reached_management"] or 0),
               f"{pyramid['reached_management']} (documents "
               f"{pct(pyramid['expected_management_share'])} of complaints)", BAD),
              ("told the front line", float(pyramid["frontline_only"] or 0),
               str(pyramid["frontline_only"]), AMBER),
              ("never complained (est.)", float(pyramid["estimated_never_complained"] or 0),
               f"{pyramid['estimated_never_complained'] or 0:.1f}", GREY)],
             f"{pyramid['source']}; {silent['source']}"),
        stacked("retention-calls", f"Retention calls after a tier drop ({calls['scheduled']})",
                [(f"{d['from_tier']} → {d['to_tier']}",
                  [(k.replace("_", " "), d[k], c) for k, c in outcome_colors.items()])
                 for d in calls["by_drop"]]),
        bars("rejections", f"Rejected complaints by reason ({rejections['rejected']}; "
             f"{pct(rejections['rejected_share'])} of all received)",
             [(r.replace("_", " "), float(n), str(n), BAD)
              for r, n in rejections["by_reason"].items() if n]),
        rate_bars("expectation", "Satisfaction: outcome of the kind expected versus another",
                  [("kind expected", expectation["same_kind"]["satisfaction_rate"]["value"],
                    expectation["same_kind"]["answers"]),
                   ("another kind", expectation["other_kind"]["satisfaction_rate"]["value"],
                    expectation["other_kind"]["answers"])],
                  o["satisfaction_rate"]["target"]),
        bars("waits", "Waiting: mean per complaint (still waiting now)",
             [(label, w["mean_seconds"] or 0.0,
               f"{duration(w['mean_seconds'])} x {w['complaints']} ({w[now]} now)", color)
              for label, w, now, color in (
                  ("clocks paused", waits["paused"], "paused_now", GREY),
                  ("plan approval", waits["approval"], "waiting_now", AMBER),
                  ("contact data", waits["contact_data"], "waiting_now", TARGET))
              if w["complaints"] or w[now]]),
    ]  # fmt: skip


def _tile(label: str, fig: dict[str, Any] | None, text: str) -> str:
    state = ""
    if fig is not None and fig.get("meets_target") is not None:
        state = " ok" if fig["meets_target"] else " off"
    target = ""
    if fig is not None and fig.get("target") is not None:
        sign = "≥" if fig["direction"] == "min" else "≤"
        target = f'<span class="target">target {sign} {fig["target"]:.0%}</span>'
    return (
        f'<div class="tile{state}"><span class="label">{escape(label)}</span>'
        f'<span class="value">{escape(text)}</span>{target}</div>'
    )


SCRIPT = """
// The figures need a supervisor's bearer token: from the #token= fragment (never sent to a
// server, dropped from the address bar at once), else this tab's session, else the form.
var KEY = 'satisfaction-dashboard-token';
function measure() {
  // Proof of rendering for humans and tests alike: count the marks the browser laid out.
  document.querySelectorAll('svg[data-chart]').forEach(function (svg) {
    var drawn = 0;
    svg.querySelectorAll('.mark').forEach(function (m) {
      var box = m.getBBox();
      if (box.width > 0 || box.height > 0) { drawn += 1; }
    });
    svg.setAttribute('data-rendered-marks', String(drawn));
    svg.setAttribute('data-rendered-width', String(Math.round(svg.getBoundingClientRect().width)));
  });
}
function show(state, message) {
  document.getElementById('login').hidden = state === 'yes';
  document.getElementById('message').textContent = message || '';
  document.body.setAttribute('data-ready', state);
}
function load(token) {
  fetch(location.pathname + '/view' + location.search,
        {headers: {'Authorization': 'Bearer ' + token}})
    .then(function (answer) {
      if (!answer.ok) { throw new Error(answer.status === 403
        ? 'This page needs the supervisor role.' : 'The token was refused.'); }
      return answer.text();
    })
    .then(function (html) {
      sessionStorage.setItem(KEY, token);
      document.getElementById('content').innerHTML = html;
      measure();
      show('yes');
    })
    .catch(function (error) { sessionStorage.removeItem(KEY); show('denied', error.message); });
}
window.addEventListener('load', function () {
  var fromHash = new URLSearchParams(location.hash.slice(1)).get('token');
  if (fromHash) { history.replaceState(null, '', location.pathname + location.search); }
  document.getElementById('login').addEventListener('submit', function (e) {
    e.preventDefault();
    load(document.getElementById('token').value.trim());
  });
  var token = fromHash || sessionStorage.getItem(KEY);
  if (token) { load(token); } else { show('login'); }
});
"""

STYLE = """
body{font-family:system-ui,sans-serif;margin:16px;color:#222;background:#fafafa}
h1{font-size:20px;margin:0 0 4px} .sub{color:#666;margin-bottom:12px}
.tiles{display:flex;flex-wrap:wrap;gap:8px;margin-bottom:12px}
.tile{background:#fff;border:1px solid #ddd;border-left:4px solid #999;padding:8px 12px;
min-width:150px;display:flex;flex-direction:column}
.tile.ok{border-left-color:#1a7f37}.tile.off{border-left-color:#c9190b}
.tile .label{font-size:12px;color:#666}.tile .value{font-size:20px;font-weight:600}
.tile .target{font-size:11px;color:#0969da}
.grid{display:flex;flex-wrap:wrap;gap:12px}
figure{background:#fff;border:1px solid #ddd;margin:0;padding:8px}
figcaption{font-weight:600;font-size:13px;margin-bottom:4px}
svg text{fill:#333;font-family:system-ui,sans-serif} svg text.empty{fill:#999}
.source{font-size:11px;color:#666;max-width:560px;margin-top:4px}
"""


def render(
    summary: dict[str, Any],
    trend: dict[str, Any],
    groups: dict[str, list[dict[str, Any]]],
    policy: ReportPolicy,
) -> str:
    o = summary["overall"]
    target = policy.targets_min.get("satisfaction_rate")

    def rate(label: str, name: str, fig: dict[str, Any] | None = None) -> str:
        fig = fig or o[name]
        return _tile(label, fig, pct(fig["value"]))

    def seconds(label: str, name: str) -> str:
        return _tile(label, None, duration(o[name]["value"]))

    retention = o["retention"]["expected_retention_rate"]
    silent = o["complaint_pyramid"]["silent_dissatisfied_estimate"]
    tiles = "".join(
        [
            rate("Satisfaction rate", "satisfaction_rate"),
            rate("Timely handling", "timely_handling_rate"),
            rate("Dissatisfaction rate", "dissatisfaction_rate"),
            rate("Response rate", "response_rate"),
            _tile("Answers", None, str(o["answers"])),
            seconds("Mean time to resolve", "mean_time_to_resolve_seconds"),
            seconds("p90 time to resolve", "p90_time_to_resolve_seconds"),
            rate("Reopen rate", "reopen_rate"),
            rate("First-contact resolution", "first_contact_resolution_rate"),
            _tile("Silent dissatisfied (est.)", None, f"{silent:.0f}"),
            rate("Expected retention", "", retention),
            _tile("Open, already breached", None, str(o["unresolved_breached"])),
            _tile("Rejected", None, str(o["rejections"]["rejected"])),
            rate("Outcome as expected", "", o["expectation"]["same_kind_rate"]),
            _tile(
                "Expected churn (answers)",
                None,
                pct(o["projection"]["churn_by_level"]["expected_churn_rate"]),
            ),
        ]
    )

    def by(dim: str) -> list[tuple[str, float | None, int]]:
        return [(g["value"], g["satisfaction_rate"]["value"], g["answers"]) for g in groups[dim]]

    sla = o["satisfaction_by_sla"]
    charts = [
        trend_chart(trend["points"], target),
        levels_chart(o["answers_by_level"]),
        rate_bars("by-channel", "Satisfaction by channel", by("channel"), target),
        rate_bars("by-category", "Satisfaction by category", by("category"), target),
        rate_bars("by-tier", "Satisfaction by customer tier", by("tier"), target),
        rate_bars(
            "sla",
            "Satisfaction: SLA met versus missed",
            [
                ("SLA met", sla["met"]["satisfaction_rate"]["value"], sla["met"]["answers"]),
                (
                    "SLA missed",
                    sla["missed"]["satisfaction_rate"]["value"],
                    sla["missed"]["answers"],
                ),
            ],
            target,
        ),
        count_bars(
            "cycles",
            "Resolved at attempt (resolution cycles needed)",
            [
                (f"attempt {label}", figures["resolved"])
                for label, figures in o["resolved_by_cycle"].items()
            ],
            color=TARGET,
        ),
        count_bars(
            "factors",
            "Top dissatisfaction factors (neutral and below)",
            [(f["factor"], f["count"]) for f in o["factors"]["low"]],
        ),
        *document_charts(o),
    ]
    return (
        f'<div class="sub">{escape(str(summary["from"]))} to {escape(str(summary["to"]))} (UTC)'
        f" · {o['complaints']} complaints · {o['answers']} answers</div>"
        f'<div class="tiles">{tiles}</div><div class="grid">{"".join(charts)}</div>'
    )


SHELL = (
    '<!doctype html><html lang="en"><head><meta charset="utf-8">'
    "<title>Customer satisfaction</title>"
    f"<style>{STYLE}</style></head><body>"
    "<h1>Customer satisfaction</h1>"
    '<form id="login" hidden><label>Supervisor token '
    '<input id="token" type="password" autocomplete="off"></label> '
    '<button type="submit">Show</button> <span id="message"></span></form>'
    '<div id="content"></div>'
    f"<script>{SCRIPT}</script></body></html>"
)
