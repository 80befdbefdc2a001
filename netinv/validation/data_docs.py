"""Make a Great Expectations Data Docs site render offline.

GX's pages load Bootstrap, bootstrap-table, jQuery, Font Awesome and Vega from public CDNs and
fill their tables and charts with that JavaScript, so on a machine without internet (a
container, an air-gapped audit host, a CI artifact opened later) the index is an empty page
and the validation pages are unstyled. GX has no option to bundle those assets (GX issue #994;
the offline-bundle PR #2870 was declined), and GX ships only its own stylesheet and images. So,
after GX has written the site, `make_offline` rewrites each page in place:

- every `<script src>` / `<link href>` with a remote URL is removed;
- the tables bootstrap-table would draw from data embedded in the page are written out as plain
  HTML tables (sorted as GX asks, each row linking to its page);
- the Vega-Lite bar charts (the partitions of the KL-divergence expectations) become small
  HTML bar tables of the same numbers;
- the remaining inline scripts (all jQuery) are replaced by one short plain-JavaScript script
  for what the pages still need: collapsible sections, the index's tabs and the "Failed Only"
  filter;
- remote images point at GX's local copies under `static/images` (or are dropped), remote
  `url(...)` in GX's inline styles becomes `none`, and GX's newsletter footer goes;
- a stylesheet with the few Bootstrap rules the pages use (grid, cards, tables, badges, alerts,
  spacing) is inlined, so each page stands alone.

The rewrite is idempotent (a rewritten page is recognised and skipped).
"""

from __future__ import annotations

import ast
import html
import os
import re
from pathlib import Path
from typing import Any

from netinv.atomic import write_text

MARKER = '<meta name="netinv-offline" content="1">'

_REMOTE_ASSET = re.compile(
    r"""<(?:script|link)\b[^>]*?\b(?:src|href)\s*=\s*["'](?:https?:)?//[^"']*["'][^>]*>(?:\s*</script>)?""",
    re.IGNORECASE)
_INLINE_SCRIPT = re.compile(r"<script\b(?![^>]*\bsrc\s*=)[^>]*>(?P<body>.*?)</script>", re.IGNORECASE | re.DOTALL)
_REMOTE_IMG = re.compile(r"""<img\b(?P<before>[^>]*?)\bsrc\s*=\s*["'](?:https?:)?//[^"']*?/(?P<name>[^/"'?#]+)"""
                         r"""(?:[?#][^"']*)?["'](?P<after>[^>]*)>""", re.IGNORECASE | re.DOTALL)
_REMOTE_CSS_URL = re.compile(r"""url\(\s*["']?(?:https?:)?//[^)]*\)""", re.IGNORECASE)
_TOOLBAR = re.compile(r"""<div id="[^"]*-toolbar"[^>]*>.*?</div>""", re.DOTALL)
_NEWSLETTER = re.compile(r"<footer\b[^>]*>(?:(?!</footer>).)*newsletter.*?</footer>", re.DOTALL | re.IGNORECASE)


def make_offline(site: str | Path) -> list[Path]:
    """Rewrite every page of the Data Docs site at `site` to need nothing from the network;
    return the pages rewritten."""
    root = Path(site)
    done = []
    for page in sorted(root.rglob("*.html")):
        text = page.read_text(encoding="utf-8")
        if MARKER in text:
            continue
        write_text(page, offline_page(text, os.path.relpath(root / "static" / "images", page.parent), root))
        done.append(page)
    return done


def remote_assets(text: str) -> list[str]:
    """The http(s) URLs a page loads as a script, stylesheet, image or CSS `url()` (not plain links)."""
    found = [m.group(0) for m in _REMOTE_ASSET.finditer(text)]
    found += [m.group(0) for m in re.finditer(r"""<img\b[^>]*\bsrc\s*=\s*["'](?:https?:)?//[^>]*>""", text, re.I)]
    return found + [m.group(0) for m in _REMOTE_CSS_URL.finditer(text)]


def offline_page(text: str, images: str, root: Path | None = None) -> str:
    """One page rewritten (see the module docstring); `images` is the relative path from the
    page to the site's `static/images`, `root` the site (to check an image exists locally)."""
    tables: dict[str, str] = {}

    def script(match: re.Match[str]) -> str:
        body = match["body"]
        if ".bootstrapTable(" in body:
            rendered = _bootstrap_table(body)
            if rendered is not None:
                tables[rendered[0]] = rendered[1]
            return ""
        if "vegaEmbed(" in body:
            return _vega_chart(body)
        return ""

    text = _REMOTE_ASSET.sub("", text)
    text = _INLINE_SCRIPT.sub(script, text)
    for table_id, rendered in tables.items():
        text = re.sub(rf"""<table\s+id="{re.escape(table_id)}"(?P<attrs>[^>]*)>\s*</table>""",
                      lambda m, r=rendered, i=table_id: _table_tag(i, m["attrs"], r), text, count=1)
    text = _TOOLBAR.sub("", text)  # "Clear Filters" buttons of bootstrap-table's filter controls
    text = _NEWSLETTER.sub("", text)  # GX's newsletter footer

    def image(match: re.Match[str]) -> str:
        name = match["name"]
        if root is not None and not (root / "static" / "images" / name).is_file():
            return ""
        return f'<img{match["before"]}src="{images}/{name}"{match["after"]}>'

    text = _REMOTE_IMG.sub(image, text)
    text = _REMOTE_CSS_URL.sub("none", text)
    head = f"{MARKER}\n<style>{STYLE}</style>\n"
    text = re.sub(r"</head>", lambda _: head + "</head>", text, count=1, flags=re.IGNORECASE)
    return re.sub(r"</body>", lambda _: f"<script>{SCRIPT}</script>\n</body>", text, count=1, flags=re.IGNORECASE)


def _literal_line(body: str, key: str) -> Any:
    """The Python literal GX wrote on the line `KEY: LITERAL,` of an inline script."""
    match = re.search(rf"^\s*{key}: (?P<value>.*?),?\s*$", body, re.MULTILINE)
    return None if match is None else ast.literal_eval(match["value"])


def _bootstrap_table(body: str) -> tuple[str, str] | None:
    """(table id, rows as HTML) for a `$('#ID').bootstrapTable({columns, data, ...}, options)` call."""
    target = re.search(r"""\$\(['"]#(?P<id>[^'"]+)['"]\)\.bootstrapTable\(""", body)
    try:
        columns, data = _literal_line(body, "columns"), _literal_line(body, "data")
        options = ast.literal_eval(re.search(r"^\s*(\{'.*\})\s*$", body, re.MULTILINE)[1])
    except (ValueError, SyntaxError, TypeError):
        return None
    if target is None or columns is None or data is None:
        return None
    sort_name = options.get("sortName")
    column = next((c for c in columns if c.get("field") == sort_name), {})
    key = column.get("sortName", sort_name)
    if key is not None:
        data = sorted(data, key=lambda row: (row.get(key) is None, row.get(key, "")),
                      reverse=options.get("sortOrder") == "desc")
    head = "".join(f"<th>{html.escape(str(c.get('title', c['field'])))}</th>" for c in columns)
    rows = []
    for row in data:
        link = row.get("_table_row_link_path")
        cells = []
        for c in columns:
            cell = str(row.get(c["field"], ""))
            if link and "<a " not in cell:
                cell = f'<a href="{html.escape(link, quote=True)}">{cell}</a>'
            cells.append(f"<td>{cell}</td>")
        rows.append(f"<tr>{''.join(cells)}</tr>")
    return target["id"], f"<thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody>"


def _table_tag(table_id: str, attrs: str, rows: str) -> str:
    attrs = re.sub(r"""\s*data-toggle="table"\s*""", " ", attrs)
    return f'<table id="{table_id}"{attrs.rstrip()} data-netinv-offline="table">{rows}</table>'


def _vega_chart(body: str) -> str:
    """A Vega-Lite bar chart (`vlSpec = {...}`) as an HTML table with one bar per value."""
    match = re.search(r"^\s*vlSpec = (?P<spec>\{.*\});?\s*$", body, re.MULTILINE)
    try:
        spec = ast.literal_eval(match["spec"]) if match else None
        x, y = spec["encoding"]["x"]["field"], spec["encoding"]["y"]["field"]
        rows = next(iter(spec["datasets"].values()))
    except (ValueError, SyntaxError, TypeError, KeyError, StopIteration):
        return '<p class="netinv-chart">(chart not available offline)</p>'
    top = max((float(r.get(y) or 0) for r in rows), default=0.0) or 1.0
    cells = "".join(
        f"<tr><td>{html.escape(str(r.get(x)))}</td><td>{float(r.get(y) or 0):.4g}</td>"
        f'<td class="netinv-bar-cell"><span class="netinv-bar" style="width:{100 * float(r.get(y) or 0) / top:.1f}%">'
        "</span></td></tr>" for r in rows)
    return (f'<table class="table table-sm netinv-chart"><thead><tr><th>{html.escape(x)}</th>'
            f"<th>{html.escape(y)}</th><th></th></tr></thead><tbody>{cells}</tbody></table>")


def _spacing() -> str:
    """Bootstrap 4's spacing utilities (m-*, p-*, mt-*, px-*, ... and their sm/md variants)."""
    sizes = {"0": "0", "1": ".25rem", "2": ".5rem", "3": "1rem", "4": "1.5rem", "5": "3rem", "auto": "auto"}
    sides = {"": ("",), "t": ("-top",), "b": ("-bottom",), "l": ("-left",), "r": ("-right",),
             "x": ("-left", "-right"), "y": ("-top", "-bottom")}
    rules = {"": [], "sm": [], "md": []}
    for bp in rules:
        infix = f"-{bp}" if bp else ""
        for prop, short in (("margin", "m"), ("padding", "p")):
            for side, props in sides.items():
                for size, value in sizes.items():
                    if prop == "padding" and size == "auto":
                        continue
                    decl = ";".join(f"{prop}{p}:{value}!important" for p in props)
                    rules[bp].append(f".{short}{side}{infix}-{size}{{{decl}}}")
    return ("".join(rules[""]) + "@media(min-width:576px){" + "".join(rules["sm"]) + "}"
            + "@media(min-width:768px){" + "".join(rules["md"]) + "}")


STYLE = """
*,*::before,*::after{box-sizing:border-box}
body{margin:0;font-family:system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,sans-serif;font-size:.95rem;
line-height:1.5;color:#212529;background:#fff}
a{color:#0062cc;text-decoration:none}a:hover{text-decoration:underline}
h1,h2,h3,h4,h5,h6,.h6{margin:0 0 .5rem;font-weight:500;line-height:1.2}h4{font-size:1.4rem}h5{font-size:1.15rem}
h6,.h6{font-size:1rem}p{margin:0 0 1rem}.lead{font-size:1.1rem;font-weight:300}
ul,ol{margin-top:0}
.container-fluid{width:100%;padding:0 15px}
.row{display:flex;flex-wrap:wrap;margin:0 -15px}
[class^="col-"],[class*=" col-"]{position:relative;width:100%;padding:0 15px}
.col-6{flex:0 0 50%;max-width:50%}.col-12{flex:0 0 100%;max-width:100%}
@media(min-width:768px){.col-md-2{flex:0 0 16.667%;max-width:16.667%}.col-md-10{flex:0 0 83.333%;max-width:83.333%}}
@media(min-width:992px){.col-lg-2{flex:0 0 16.667%;max-width:16.667%}.col-lg-10{flex:0 0 83.333%;max-width:83.333%}}
.d-none{display:none!important}.d-flex{display:flex!important}.d-block{display:block!important}
@media(min-width:576px){.d-sm-block{display:block!important}}
@media(min-width:768px){.d-md-block{display:block!important}.d-md-inline-flex{display:inline-flex!important}}
.flex-column{flex-direction:column!important}@media(min-width:576px){.flex-sm-row{flex-direction:row!important}}
.align-items-center{align-items:center!important}.justify-content-center{justify-content:center!important}
.float-left{float:left!important}.h-100{height:100%!important}.text-center{text-align:center!important}
.invisible{visibility:hidden!important}.fixed-bottom{position:fixed;right:0;bottom:0;left:0;z-index:1030}
.sticky-top{position:sticky;top:0;z-index:1020}
.border{border:1px solid #dee2e6!important}.border-bottom{border-bottom:1px solid #dee2e6!important}
.rounded{border-radius:.25rem!important}.rounded-0{border-radius:0!important}.bg-light{background-color:#f8f9fa!important}
.text-success{color:#28a745!important}.text-danger{color:#dc3545!important}.text-warning{color:#b8860b!important}
.text-info{color:#17a2b8!important}.text-muted{color:#6c757d!important}
.navbar{display:flex;flex-wrap:wrap;align-items:center;justify-content:space-between;padding:.5rem 1rem;background:#fff}
.navbar-brand{display:inline-block;margin-right:1rem;white-space:nowrap}
.breadcrumb{display:flex;flex-wrap:wrap;list-style:none;padding:.5rem 1rem;border-radius:.25rem;align-items:center}
.breadcrumb-item+.breadcrumb-item{padding-left:.5rem}
.breadcrumb-item+.breadcrumb-item::before{display:inline-block;padding-right:.5rem;color:#6c757d;content:"/"}
.nav{display:flex;flex-wrap:wrap;padding-left:0;margin-bottom:0;list-style:none}
.nav-link{display:block;padding:.4rem .8rem}
.nav-tabs{border-bottom:1px solid #dee2e6}
.nav-tabs .nav-link{margin-bottom:-1px;border:1px solid transparent;border-radius:.25rem .25rem 0 0}
.nav-tabs .nav-link.active{color:#495057;background:#fff;border-color:#dee2e6 #dee2e6 #fff}
.nav-pills .nav-link{border-radius:.25rem}
.tab-pane{display:none}.tab-pane.active{display:block}
.collapse:not(.show){display:none}
.card{position:relative;display:flex;flex-direction:column;min-width:0;background:#fff;
border:1px solid rgba(0,0,0,.125);border-radius:.25rem}
.card-header{padding:.75rem 1.25rem;background:rgba(0,0,0,.03);border-bottom:1px solid rgba(0,0,0,.125)}
.card-body{flex:1 1 auto;padding:1.25rem}
.table{width:100%;margin-bottom:1rem;border-collapse:collapse}
.table th,.table td,table[data-netinv-offline] th,table[data-netinv-offline] td{padding:.5rem;vertical-align:top;
border-top:1px solid #dee2e6;text-align:left}
.table thead th,table[data-netinv-offline] thead th{border-bottom:2px solid #dee2e6}
.table-sm th,.table-sm td{padding:.3rem!important}
table[data-netinv-offline]{width:100%;border-collapse:collapse}
.table-responsive{display:block;width:100%;overflow-x:auto}
.badge{display:inline-block;padding:.25em .4em;font-size:80%;font-weight:600;line-height:1;white-space:nowrap;
border-radius:.25rem}
.badge-secondary{color:#fff;background:#6c757d}.badge-info{color:#fff;background:#17a2b8}
.badge-success{color:#fff;background:#28a745}.badge-danger{color:#fff;background:#dc3545}
.alert{position:relative;padding:.5rem .9rem;margin-bottom:1rem;border:1px solid transparent;border-radius:.25rem}
.alert-secondary{color:#383d41;background:#e2e3e5;border-color:#d6d8db}
.alert-info{color:#0c5460;background:#d1ecf1;border-color:#bee5eb}
.alert-danger{color:#721c24;background:#f8d7da;border-color:#f5c6cb}
.alert-success{color:#155724;background:#d4edda;border-color:#c3e6cb}
.alert-warning{color:#856404;background:#fff3cd;border-color:#ffeeba}
.btn{display:inline-block;font-weight:400;text-align:center;vertical-align:middle;cursor:pointer;
border:1px solid transparent;padding:.3rem .7rem;font-size:.9rem;border-radius:.25rem}
.btn-sm{padding:.2rem .5rem;font-size:.8rem}
.btn-primary{color:#fff;background:#007bff;border-color:#007bff}.btn-primary.active{background:#0056b3}
.btn-secondary{color:#fff;background:#6c757d}.btn-group{display:inline-flex}
.btn-group>.btn:not(:first-child){border-top-left-radius:0;border-bottom-left-radius:0}
.btn-group>.btn:not(:last-child){border-top-right-radius:0;border-bottom-right-radius:0}
.btn-group-toggle input[type=radio]{position:absolute;clip:rect(0,0,0,0);pointer-events:none}
.close{float:right;font-size:1.5rem;font-weight:700;line-height:1;background:transparent;border:0}
.fas,.fa{display:inline-block;font-style:normal;font-weight:700}
.fa-check-circle::before,.fa-check::before{content:"\\2714"}
.fa-times-circle::before,.fa-times::before{content:"\\2718"}
.fa-exclamation-triangle::before{content:"\\26A0"}.fa-question-circle::before{content:"?"}
.fa-info-circle::before{content:"\\2139"}
.netinv-chart{max-width:32rem}.netinv-bar-cell{width:50%}
.netinv-bar{display:inline-block;height:.8rem;background:#4c78a8;vertical-align:middle}
""" + _spacing()

SCRIPT = """
(function () {
  function toggleClass(el, name, on) { if (el) { el.classList.toggle(name, on); } }
  document.addEventListener("click", function (event) {
    var link = event.target.closest('[data-toggle="collapse"], [data-toggle="tab"]');
    if (!link) { return; }
    var target = document.getElementById((link.getAttribute("href") || "").replace(/^#/, ""));
    if (!target) { return; }
    event.preventDefault();
    if (link.getAttribute("data-toggle") === "collapse") {
      toggleClass(target, "show", !target.classList.contains("show"));
      return;
    }
    Array.prototype.forEach.call(target.parentElement.children, function (pane) {
      toggleClass(pane, "active", pane === target); toggleClass(pane, "show", pane === target);
    });
    var nav = link.closest(".nav");
    Array.prototype.forEach.call(nav ? nav.querySelectorAll('[data-toggle="tab"]') : [], function (other) {
      toggleClass(other, "active", other === link);
    });
  });
  function setFailedOnly(hide) {
    var display = hide ? "none" : "";
    document.querySelectorAll(".hide-succeeded-validation-target-child").forEach(function (el) {
      el.parentElement.style.display = display;
    });
    document.querySelectorAll(".hide-succeeded-validation-target").forEach(function (el) {
      el.style.display = display;
    });
    document.querySelectorAll(".hide-succeeded-validations-column-section-target-child").forEach(function (el) {
      var section = el.parentElement.parentElement;
      section.style.display = display;
      if (section.id) {
        document.querySelectorAll('a[href$="' + section.id + '"]').forEach(function (a) { a.style.display = display; });
      }
    });
  }
  window.showAllValidations = function () { setFailedOnly(false); };
  window.hideSucceededValidations = function () { setFailedOnly(true); };
  document.querySelectorAll(".btn-group-toggle .btn").forEach(function (label) {
    label.addEventListener("click", function () {
      label.parentElement.querySelectorAll(".btn").forEach(function (b) { toggleClass(b, "active", b === label); });
    });
  });
})();
"""
