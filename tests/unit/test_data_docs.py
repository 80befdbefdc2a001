"""Great Expectations: native severity, named runs, Data Docs that render offline."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import numpy as np
import pytest

from netinv.validation.data_docs import MARKER, make_offline, offline_page, remote_assets
from netinv.validation.dataset import dataset_checks, image_table
from netinv.validation.suite import Check, default_run_name, expectation, file_run_name, run_checks

RUN = "samples-0123456789ab-20260101T000000Z"


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    """A Data Docs site of one run with a failed critical check and a failed warning."""
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (60, 8, 8), dtype=np.uint8)
    images[:5] = 7  # blank images: the `images_not_blank` warning fails
    labels = np.repeat(np.arange(3), 20)
    labels[:40] = 0  # unbalanced: the critical `class_balance_kl` fails
    docs = tmp_path_factory.mktemp("docs")
    result = run_checks(image_table(images, labels), dataset_checks(3, 0.01), "input_data", docs_dir=docs,
                        run_name=RUN)
    return docs, result


def test_severity_is_the_native_gx_field():
    from great_expectations.expectations.metadata_types import FailureSeverity

    made = expectation(Check("blank", "ExpectColumnValuesToBeBetween", {"column": "x", "min_value": 0}, "warning"))
    assert made.severity == FailureSeverity.WARNING
    assert made.meta == {"netinv_name": "blank"}  # no severity in meta any more
    assert expectation(Check("c", "ExpectColumnValuesToBeInSet", {"column": "x", "value_set": [1]})).severity \
        == FailureSeverity.CRITICAL


def test_severity_is_read_back_from_the_results(site):
    _, result = site
    assert [r.name for r in result.failed("critical")] == ["class_balance_kl"]
    assert [r.name for r in result.failed("warning")] == ["images_not_blank"]
    assert not result.success
    assert result.as_dict()["checks"]["images_not_blank"]["severity"] == "warning"


def test_the_run_is_named_in_data_docs(site):
    docs, result = site
    assert result.run_name == RUN
    pages = list((docs / "validations" / "input_data" / RUN).rglob("*.html"))
    assert len(pages) == 1
    assert RUN in (docs / "index.html").read_text() and RUN in pages[0].read_text()
    assert not list(docs.rglob("__none__"))
    assert "__none__" not in (docs / "index.html").read_text()


def test_default_run_names(tmp_path):
    when = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    assert default_run_name("input_data", when) == "input_data-20260102T030405Z"
    (tmp_path / "samples.npz").write_bytes(b"abc")
    assert file_run_name("samples", tmp_path / "samples.npz", when) == "samples-ba7816bf8f01-20260102T030405Z"
    table = image_table(np.zeros((3, 2, 2), np.uint8), np.arange(3))
    assert re.fullmatch(r"t-\d{8}T\d{6}Z", run_checks(table, dataset_checks(3, 1.0)[:1], "t").run_name)


def test_pages_load_no_css_or_js_from_the_network(site):
    docs, _ = site
    pages = sorted(docs.rglob("*.html"))
    assert {p.relative_to(docs).parts[0] for p in pages} == {"index.html", "expectations", "validations"}
    for page in pages:
        text = page.read_text()
        assert MARKER in text
        assert remote_assets(text) == [], page
        for tag in re.findall(r"<(?:script|link|img)\b[^>]*>", text, re.IGNORECASE):
            assert not re.search(r"""(?:src|href)\s*=\s*["']?(?:https?:)?//""", tag, re.IGNORECASE), (page, tag)
        assert not re.search(r"@import|url\(\s*['\"]?(?:https?:)?//", text), page
        assert "$(" not in text and "jQuery" not in text  # no script left that needs jQuery


def test_the_index_tables_are_written_out(site):
    docs, _ = site
    index = (docs / "index.html").read_text()
    table = re.search(r"<table [^>]*ge-index-page-validation-results-table[^>]*>(?P<body>.*?)</table>", index, re.DOTALL)
    assert table is not None and "<th>Run Name</th>" in table["body"]
    page = next((docs / "validations").rglob("*.html")).relative_to(docs).as_posix()
    assert f'href="{page}"' in table["body"]  # each row links to its validation page
    assert 'href="expectations/input_data.html"' in index


def test_charts_become_tables_and_images_are_local(site):
    docs, _ = site
    page = next((docs / "validations").rglob("*.html"))
    text = page.read_text()
    assert "vegaEmbed" not in text and text.count('class="table table-sm netinv-chart"') == 2  # expected, observed
    logo = re.search(r'<img[^>]*src="(?P<src>[^"]+)"', text)["src"]
    assert logo == "../../../../static/images/logo-long.png" and (page.parent / logo).is_file()


def test_make_offline_is_idempotent(site):
    docs, _ = site
    before = {p: p.read_text() for p in docs.rglob("*.html")}
    assert make_offline(docs) == []
    assert {p: p.read_text() for p in docs.rglob("*.html")} == before


def test_an_unparseable_table_or_chart_is_dropped_not_fatal():
    page = ("<html><head><script src=\"https://cdn.example/x.js\"></script></head><body>"
            "<table id=\"t\" data-toggle=\"table\"></table><script>$('#t').bootstrapTable({columns: oops});</script>"
            "<div><script>vlSpec = {not python};\nvegaEmbed('#v', vlSpec);</script></div></body></html>")
    out = offline_page(page, "static/images")
    assert remote_assets(out) == [] and "bootstrapTable" not in out and "chart not available offline" in out
