"""The published notice as citizens and other tools see it: pages, JSON, feed, caching."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path

import pytest

from portal.notices.service import get_by_slug, import_notice, publish_notice, withdraw_notice

FOOTER_WORDS = ("版权所有", "ICP", "网站地图", "鸿福路", "523888", "纪律检查委员会")


def page(client, url: str, **kw) -> str:
    response = client.get(url, **kw)
    assert response.status_code == 200, (url, response.status_code)
    return response.get_data(as_text=True)


def test_notice_page_shows_every_finding_with_a_stable_anchor(client, published_notice):
    html = page(client, f"/notices/{published_notice}")
    assert '<html lang="zh-CN">' in html
    for number in range(1, 20):
        assert f'id="finding-{number}"' in html
    for number in range(1, 6):
        assert f'id="category-{number}"' in html
    # Finding 10 keeps its inner quotes as published.
    assert "推动‘数字检察’工作力度不够、成效不明显" in html
    # Finding 11 has four measures, rendered as a list.
    finding_11 = html.split('id="finding-11"')[1].split("</article>")[0]
    assert finding_11.count("<li>") == 4


def test_notice_page_has_contacts_as_links_and_no_footer(client, published_notice):
    html = page(client, f"/notices/{published_notice}")
    assert 'href="tel:076922366196"' in html
    assert 'href="mailto:DGjczgb@163.com"' in html
    assert "东莞市东城西路185号(巡察整改办收)" in html
    assert "523000" in html
    for word in FOOTER_WORDS:
        assert word not in html, word


def test_each_finding_links_to_feedback_for_that_finding(client, published_notice):
    html = page(client, f"/notices/{published_notice}")
    links = re.findall(r'<a href="([^"]+)">对此问题提意见</a>', html)
    assert len(links) == 19
    assert links[6] == f"/notices/{published_notice}/feedback?finding=7"


def test_index_lists_published_notices_newest_first(app, client, seed_text):
    older = seed_text.replace("2024年2月2日", "2023年5月6日")
    with app.app_context():
        import_notice(older, slug="older", publish=True)
        import_notice(seed_text, slug="newer", publish=True)
        import_notice(seed_text, slug="draft-one")
        from portal.extensions import db

        db.session.commit()
    html = page(client, "/")
    assert html.index("/notices/newer") < html.index("/notices/older")
    assert "/notices/draft-one" not in html


def test_json_matches_the_design_contract(client, published_notice):
    data = client.get(f"/notices/{published_notice}.json").get_json()
    assert set(data) == {"slug", "title", "signed_by", "signed_on", "contacts", "categories"}
    assert data["slug"] == published_notice
    assert data["signed_by"] == "中共东莞市人民检察院党组"
    assert data["signed_on"] == "2024-02-02"
    assert data["contacts"] == {
        "phone": "0769-22366196",
        "email": "DGjczgb@163.com",
        "address": "东莞市东城西路185号(巡察整改办收)",
        "postcode": "523000",
    }
    assert [c["number"] for c in data["categories"]] == [1, 2, 3, 4, 5]
    findings = [f for c in data["categories"] for f in c["findings"]]
    assert [f["number"] for f in findings] == list(range(1, 20))
    assert set(findings[0]) == {"number", "title", "status", "measures"}
    assert findings[0]["title"] == "落实上级重大决策部署不到位"
    assert findings[0]["measures"][1]["text"].startswith("全面落实最高检系列检察建议")
    assert findings[17]["title"] == "干部轮岗交流执行不到位问题整改不实"
    assert len(findings[17]["measures"]) == 1
    assert not any(word in str(data) for word in FOOTER_WORDS)


def test_draft_is_not_public_and_withdrawn_answers_410(app, client, seed_text):
    with app.app_context():
        from portal.extensions import db

        import_notice(seed_text, slug="draft")
        result = import_notice(seed_text, slug="gone", publish=True)
        db.session.commit()
        assert client.get("/notices/gone").status_code == 200
        withdraw_notice(result.notice, actor="test", note="该公示已更新，请查看新版。")
        db.session.commit()
    assert client.get("/notices/draft").status_code == 404
    assert client.get("/notices/draft.json").status_code == 404
    gone = client.get("/notices/gone")
    assert gone.status_code == 410
    assert "该公示已更新，请查看新版。" in gone.get_data(as_text=True)
    assert client.get("/notices/gone.json").status_code == 410


@pytest.mark.parametrize("suffix", ["", ".json"])
def test_conditional_get_answers_304(client, published_notice, suffix):
    url = f"/notices/{published_notice}{suffix}"
    first = client.get(url)
    assert first.headers["Cache-Control"] == "public, max-age=60"
    etag = first.headers["ETag"]
    assert etag and first.headers["Last-Modified"]
    again = client.get(url, headers={"If-None-Match": etag})
    assert again.status_code == 304
    assert again.data == b""
    since = client.get(url, headers={"If-Modified-Since": first.headers["Last-Modified"]})
    assert since.status_code == 304
    stale = format_datetime(datetime.now(UTC) - timedelta(days=3000), usegmt=True)
    assert client.get(url, headers={"If-Modified-Since": stale}).status_code == 200


def test_a_revision_changes_the_page_and_its_etag(app, client, published_notice, seed_text):
    url = f"/notices/{published_notice}"
    before = client.get(url)
    revised = seed_text.replace("落实上级重大决策部署不到位", "落实上级重大决策部署仍不到位")
    with app.app_context():
        from portal.extensions import db

        import_notice(revised, slug=published_notice)
        db.session.commit()
        notice = get_by_slug(published_notice)
        assert len(notice.revisions) == 2
        assert len(notice.findings) == 19
    after = client.get(url, headers={"If-None-Match": before.headers["ETag"]})
    assert after.status_code == 200
    assert after.headers["ETag"] != before.headers["ETag"]
    assert "落实上级重大决策部署仍不到位" in after.get_data(as_text=True)


def test_atom_feed_lists_published_notices(client, published_notice):
    response = client.get("/notices.atom")
    assert response.mimetype == "application/atom+xml"
    root = ET.fromstring(response.data)
    ns = {"a": "http://www.w3.org/2005/Atom"}
    entries = root.findall("a:entry", ns)
    assert len(entries) == 1
    assert entries[0].find("a:link", ns).get("href").endswith(f"/notices/{published_notice}")
    assert "巡察" in entries[0].find("a:title", ns).text


def test_english_ui_via_query_or_accept_language(client, published_notice):
    url = f"/notices/{published_notice}"
    english = page(client, url + "?lang=en")
    assert '<html lang="en">' in english
    assert "Contact" in english
    # Notice content stays as published.
    assert "落实上级重大决策部署不到位" in english
    client.delete_cookie("lang")  # ?lang= is remembered (issue #17); forget it for the headers
    by_header = page(client, url, headers={"Accept-Language": "en-US,en;q=0.9"})
    assert '<html lang="en">' in by_header
    chinese = page(client, url, headers={"Accept-Language": "zh-CN,zh;q=0.9,en;q=0.5"})
    assert "联系方式" in chinese and '<html lang="zh-CN">' in chinese


def test_healthz_reports_the_database(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.get_json()["database"] == "up"


def test_healthz_is_503_when_the_database_is_down(tmp_path):
    from portal import create_app

    broken = create_app(
        {
            "TESTING": True,
            "INSTANCE_PATH": str(tmp_path),
            "SQLALCHEMY_DATABASE_URI": "postgresql+psycopg://nobody@127.0.0.1:1/none",
            "SQLALCHEMY_ENGINE_OPTIONS": {"connect_args": {"connect_timeout": 2}},
        }
    )
    response = broken.test_client().get("/healthz")
    assert response.status_code == 503
    assert response.get_json()["database"] == "down"


def test_unknown_page_is_a_chinese_404(client):
    response = client.get("/notices/no-such-notice")
    assert response.status_code == 404
    assert "页面不存在" in response.get_data(as_text=True)


@pytest.mark.config(NOTICE_CACHE_TTL=0.5)
def test_cached_fast_path_serves_the_same_page_and_sees_changes_within_the_ttl(
    app, client, published_notice
):
    url = f"/notices/{published_notice}"
    first = client.get(url)  # through Flask: renders and caches
    second = client.get(url)  # fresh cache entry: answered in front of Flask
    assert second.status_code == 200
    assert second.data == first.data
    for header in (
        "ETag",
        "Last-Modified",
        "Cache-Control",
        "Content-Security-Policy",
        "X-Content-Type-Options",
        "Referrer-Policy",
        "Permissions-Policy",
    ):
        assert second.headers[header] == first.headers[header], header
    assert "Accept-Language" in second.headers["Vary"]
    assert client.get(url, headers={"If-None-Match": first.headers["ETag"]}).status_code == 304
    assert client.head(url).data == b""
    english = client.get(url + "?lang=en")
    assert '<html lang="en">' in english.get_data(as_text=True)

    with app.app_context():
        from portal.extensions import db

        withdraw_notice(get_by_slug(published_notice), actor="test", note="已撤回")
        db.session.commit()
    import time

    time.sleep(0.6)
    assert client.get(url).status_code == 410


@pytest.mark.config(NOTICE_CACHE_TTL=0, NOTICE_PAGE_MAX_AGE=0.5)
def test_public_statistics_catch_up_with_new_submissions_without_a_new_version(
    app, client, published_notice
):
    from portal.intake.service import Incoming, record_submission

    url = f"/notices/{published_notice}"

    def received_for_finding_14(html: str) -> str:
        table = html.split('id="feedback-stats"')[1]
        row = table.split('href="#finding-14"')[1].split("</tr>")[0]
        return re.findall(r"<td>([^<]*)</td>", row)[0]

    assert received_for_finding_14(client.get(url).get_data(as_text=True)) == "0"
    with app.app_context():
        notice = get_by_slug(published_notice)
        body = "单位过节发购物卡，钱从哪里来的？请核查。"
        record_submission(Incoming(channel="web", body=body, notice=notice, findings=[14]))
    # Same version: still the cached page at first, then rendered anew within the max age.
    assert received_for_finding_14(client.get(url).get_data(as_text=True)) == "0"
    import time

    time.sleep(0.6)
    assert received_for_finding_14(client.get(url).get_data(as_text=True)) == "1"


@pytest.mark.parametrize(
    "source",
    sorted((Path(__file__).parent / "data" / "notices").glob("*.txt")),
    ids=lambda p: p.stem,
)
def test_every_finding_appears_once_on_the_page(app, client, source):
    """A narrative section without subsections must not be taken for the findings section
    (the categories would be rendered under both, with duplicate #finding-N anchors)."""
    with app.app_context():
        from portal.extensions import db

        notice = import_notice(source.read_text(encoding="utf-8"), slug="other")
        publish_notice(notice.notice, actor="test")  # also a notice whose warnings keep a draft
        numbers = [f.number for f in notice.notice.findings]
        sections = [s for s in notice.notice.sections if s["kind"] == "findings"]
        titles = [c.title for c in notice.notice.categories]
        db.session.commit()
    html = page(client, "/notices/other")
    assert numbers
    for number in numbers:
        assert html.count(f'id="finding-{number}"') == 1, number
    assert html.count('class="section section-findings"') == max(1, len(sections))
    for title in titles:  # each category's title shown once as a heading
        assert html.count(f">{title}</h") == 1, title


@pytest.mark.config(NOTICE_CACHE_TTL=60)
def test_each_app_serves_only_its_own_cached_pages(app, client, published_notice, tmp_path):
    """Two apps in one process (tests, or two sites in one server) never share notice pages."""
    from portal import create_app
    from portal.extensions import db

    assert client.get(f"/notices/{published_notice}").status_code == 200  # cached in `app`
    other = create_app(
        {
            "TESTING": True,
            "SECRET_KEY": "another-site",
            "INSTANCE_PATH": str(tmp_path / "other"),
            "SQLALCHEMY_DATABASE_URI": "sqlite:///" + str(tmp_path / "other.db"),
            "NOTICE_CACHE_TTL": 60,
        }
    )
    with other.app_context():
        db.create_all()
    try:
        for suffix in ("", ".json"):
            response = other.test_client().get(f"/notices/{published_notice}{suffix}")
            assert response.status_code == 404, suffix
    finally:
        with other.app_context():
            db.engine.dispose()
