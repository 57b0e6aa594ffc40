"""A run's trace, or a bench folder, as one self-contained HTML page (``reasoners trace view``).

The page holds its data and its code inline and fetches nothing: open it anywhere. A trace
page shows the call tree (each node's latency, tokens, cache hit and retries; children drawn
only when a node is opened, so a trace of 10,000 calls opens at once), the result's candidates
with their answers, scores and votes and their reasoning (collapsed), and the budget's spend
over time. A bench folder page shows the strategies side by side on one problem at a time.
"""

from __future__ import annotations

import html
import json
from pathlib import Path
from typing import Any

from ..core.errors import ConfigError
from ..core.trace import redact

__all__ = ["trace_page", "bench_page", "load_trace", "page_for"]

TRACE_VERSION = 1


def load_trace(path: Path) -> dict[str, Any]:
    """A trace file's contents, or one :class:`ConfigError` line saying what is wrong with it."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"no such trace file: {path}") from None
    except IsADirectoryError:
        raise ConfigError(f"{path} is a folder without results.jsonl; give a trace file or a bench folder") from None
    except (ValueError, UnicodeDecodeError, RecursionError) as e:
        raise ConfigError(f"{path} is not a trace: not JSON, or cut short ({str(e)[:80]})") from None
    if not isinstance(data, dict) or data.get("kind") != "run" or not isinstance(data.get("children", []), list):
        raise ConfigError(f"{path} is not a reasoners trace (write one with reasoners run --trace FILE)")
    version = data.get("version", TRACE_VERSION)
    if version != TRACE_VERSION:
        raise ConfigError(f"{path} is a trace of version {version!r}; this reasoners reads version {TRACE_VERSION}")
    return data


def _spend(trace: dict[str, Any]) -> list[tuple[float, int]]:
    """(seconds since the run began, tokens spent so far) after each model call."""
    calls: list[tuple[float, int]] = []

    def walk(node: dict[str, Any]) -> None:
        if node.get("kind") in ("llm", "score"):
            end = float(node.get("start") or 0) + float(node.get("seconds") or 0)
            calls.append((end, int((node.get("usage") or {}).get("total_tokens", 0))))
        for child in node.get("children") or []:
            walk(child)

    walk(trace)
    if not calls:
        return []
    calls.sort()
    t0 = min(float(trace.get("start") or calls[0][0]), calls[0][0])
    total, out = 0, []
    for end, tokens in calls:
        total += tokens
        out.append((round(end - t0, 3), total))
    return out


def _svg(points: list[tuple[float, int]]) -> str:
    if not points:
        return "<p>No model calls.</p>"
    w, h = 600, 140
    tmax = max(p[0] for p in points) or 1.0
    kmax = max(p[1] for p in points) or 1
    coords = " ".join(f"{8 + (w - 16) * t / tmax:.1f},{h - 8 - (h - 16) * k / kmax:.1f}" for t, k in [(0.0, 0), *points])
    return (f'<svg id="spend" width="{w}" height="{h}" viewBox="0 0 {w} {h}" role="img" '
            f'aria-label="tokens spent over time"><polyline fill="none" stroke="#2a6" stroke-width="2" '
            f'points="{coords}"/><text x="10" y="14" font-size="11">{kmax} tokens</text>'
            f'<text x="{w - 70}" y="{h - 2}" font-size="11">{tmax:.1f} s</text></svg>')


_STYLE = """
body{font:14px/1.4 system-ui,sans-serif;margin:1.5em;color:#222}h1{font-size:1.3em}
.node{margin-left:1.2em}.row{cursor:pointer;padding:1px 0}.row:hover{background:#eef}
.kind{display:inline-block;min-width:4.5em;color:#555}.llm{color:#06c}.score{color:#a50}.err{color:#c00}
.meta{color:#666;font-size:.9em;margin-left:.6em}table{border-collapse:collapse}td,th{border:1px solid #ccc;
padding:3px 6px;vertical-align:top}pre{white-space:pre-wrap;max-width:60em;margin:.3em 0}
.chosen{background:#efe}summary{cursor:pointer}
"""

_SCRIPT = """
const data = JSON.parse(document.getElementById('data').textContent);
function label(n){
  const u = n.usage || {}, a = n.attrs || {};
  let meta = (n.seconds||0).toFixed(2)+' s';
  if (u.total_tokens !== undefined) meta += ', '+u.total_tokens+' tokens';
  if (a.cached) meta += ', cache hit';
  if (a.retries) meta += ', '+a.retries+' retries';
  if (n.error) meta += ', error: '+n.error;
  return meta;
}
function render(n, into){
  const div = document.createElement('div'); div.className = 'node';
  const row = document.createElement('div'); row.className = 'row';
  const kids = n.children || [];
  row.innerHTML = (kids.length ? '\\u25b8 ' : '\\u00b7 ') + '<span class="kind '+n.kind+'">'+n.kind+'</span> ';
  row.appendChild(document.createTextNode(n.name||''));
  const m = document.createElement('span'); m.className = 'meta'+(n.error?' err':''); m.textContent = label(n);
  row.appendChild(m); row.dataset.kind = n.kind; div.appendChild(row);
  const box = document.createElement('div'); div.appendChild(box);
  let open = false;
  row.addEventListener('click', () => {
    open = !open;
    if (open && !box.childElementCount) {
      const r = (n.attrs||{}).response || [];
      for (const x of r) { const p = document.createElement('pre'); p.className='response';
        p.textContent = (x.reasoning ? '[thinking] '+x.reasoning+'\\n\\n' : '') + (x.text||''); box.appendChild(p); }
      for (const c of kids) render(c, box);
    }
    box.style.display = open ? '' : 'none';
    row.firstChild.textContent = kids.length ? (open ? '\\u25be ' : '\\u25b8 ') : '\\u00b7 ';
  });
  into.appendChild(div);
}
if (data.trace) render(data.trace, document.getElementById('tree'));
const pick = document.getElementById('problem');
if (pick) {
  const show = () => { for (const t of document.querySelectorAll('table.problem'))
    t.style.display = t.dataset.problem === pick.value ? '' : 'none'; };
  pick.addEventListener('change', show); show();
}
"""


def _page(title: str, body: str, data: dict[str, Any]) -> str:
    payload = json.dumps(redact(data)).replace("</", "<\\/")
    return (f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
            f"<style>{_STYLE}</style></head><body>{body}"
            f"<script id='data' type='application/json'>{payload}</script><script>{_SCRIPT}</script></body></html>")


def _candidates(result: dict[str, Any]) -> str:
    cands = result.get("candidates") or []
    tallies = (result.get("metadata") or {}).get("tallies") or {}
    rows = []
    for c in cands:
        answer = c.get("answer")
        cls = " class='chosen'" if answer is not None and answer == result.get("answer") else ""
        reasoning = (f"<details><summary>reasoning</summary><pre>{html.escape(str(c['reasoning']))}</pre></details>"
                     if c.get("reasoning") else "")
        rows.append(f"<tr{cls}><td>{html.escape(str(c.get('source', '')))}</td><td class='answer'>"
                    f"{html.escape(str(answer))}</td><td>{'' if c.get('score') is None else c['score']}</td>"
                    f"<td>{tallies.get(answer, '') if answer is not None else ''}</td><td><details><summary>text"
                    f"</summary><pre>{html.escape(str(c.get('text', '')))}</pre></details>{reasoning}</td></tr>")
    return ("<table id='candidates'><tr><th>source</th><th>answer</th><th>score</th><th>votes</th><th>text</th></tr>"
            + "".join(rows) + "</table>")


def trace_page(trace: dict[str, Any], title: str = "reasoners trace") -> str:
    """The page for one run's trace (with its ``result`` when the file carries one)."""
    result = trace.get("result") or {}
    calls = sum(1 for _ in _iter_calls(trace))
    usage = result.get("usage") or {}
    head = (f"<h1>{html.escape(title)}</h1><p id='summary'>strategy <b>{html.escape(str(trace.get('name', '')))}</b>"
            f", {calls} model calls"
            + (f", answer <b id='answer'>{html.escape(str(result.get('answer')))}</b>" if result else "")
            + (f", {usage.get('total_tokens', 0)} tokens" if usage else "") + "</p>")
    body = (head + "<h2>Budget spent over time</h2>" + _svg(_spend(trace))
            + ("<h2>Candidates</h2>" + _candidates(result) if result.get("candidates") else "")
            + "<h2>Call tree</h2><div id='tree'></div>")
    slim = {k: v for k, v in trace.items() if k != "result"}
    return _page(title, body, {"trace": slim})


def _iter_calls(node: dict[str, Any]) -> Any:
    if node.get("kind") in ("llm", "score"):
        yield node
    for child in node.get("children") or []:
        yield from _iter_calls(child)


def bench_page(folder: Path) -> str:
    """The page for a bench folder: on each problem, every strategy's answer, cost and samples."""
    journal = folder / "results.jsonl"
    rows = []
    for n, line in enumerate(journal.read_text(encoding="utf-8").splitlines(), 1):
        if line.strip():
            try:
                rows.append(json.loads(line))
            except ValueError:
                raise ConfigError(f"{journal}:{n} is not a journal row") from None
    if not rows:
        raise ConfigError(f"{journal} has no rows")
    problems = list(dict.fromkeys(str(r.get("problem_id")) for r in rows))
    options = "".join(f"<option>{html.escape(p)}</option>" for p in problems)
    tables = []
    for p in problems:
        cells = []
        for r in (r for r in rows if str(r.get("problem_id")) == p):
            samples = "".join(
                f"<details><summary>{html.escape(str(s.get('answer')))}{' (chosen)' if s.get('chosen') else ''}"
                f"{'' if s.get('correct') is None else (' right' if s.get('correct') else ' wrong')}</summary>"
                f"<pre>{html.escape(str(s.get('text', '')))}</pre></details>" for s in r.get("samples") or [])
            usage = r.get("usage") or {}
            status = "error: " + str((r.get("error") or {}).get("message", "")) if r.get("error") else (
                "right" if r.get("correct") else "wrong")
            cells.append(f"<td><b>{html.escape(str(r.get('strategy')))}</b> (budget {r.get('budget') or 'none'})<br>"
                         f"answer <b>{html.escape(str(r.get('answer')))}</b>, {html.escape(status)}, "
                         f"{usage.get('total_tokens', 0)} tokens, {usage.get('calls', 0)} calls{samples}</td>")
        tables.append(f"<table class='problem' data-problem='{html.escape(p)}'><tr>{''.join(cells)}</tr></table>")
    body = (f"<h1>{html.escape(folder.name)}</h1><p>{len(problems)} problems, {len(rows)} runs. Problem: "
            f"<select id='problem'>{options}</select></p>" + "".join(tables))
    return _page(f"reasoners bench: {folder.name}", body, {})


def page_for(path: Path) -> str:
    """The page for a trace file or a bench folder."""
    if path.is_dir():
        if not (path / "results.jsonl").is_file():
            raise ConfigError(f"{path} is a folder without results.jsonl; give a trace file or a bench folder")
        return bench_page(path)
    return trace_page(load_trace(path), title=f"reasoners trace: {path.name}")
