"""An editor with 2FA publishes, revises and withdraws a notice in Chromium; a viewer cannot."""

from __future__ import annotations

import re
from typing import Any

import pyotp
import pytest
from flask import Flask

from tests.conftest import STAFF_PASSWORD, totp_code_for
from tests.fixtures.browser import dump

pytestmark = pytest.mark.browser


def log_in(page: Any, base: str, email: str) -> None:
    page.goto(f"{base}/staff/")
    assert "/staff/login" in page.url  # anonymous visitors are sent to the login page
    page.get_by_label("邮箱").fill(email)
    page.get_by_label("密码").fill(STAFF_PASSWORD)
    page.get_by_role("button", name="登录").click()


def test_editor_with_totp_publishes_revises_and_withdraws(
    app: Flask, live_server: str, browser_page: Any, make_user: Any, seed_text: str, tmp_path: Any
) -> None:
    page = browser_page.page
    editor = make_user("editor")
    log_in(page, live_server, editor.email)
    page.wait_for_url("**/staff/login/verify")
    page.get_by_label("验证码").fill(totp_code_for(app, editor.id))
    page.get_by_role("button", name="验证").click()
    page.wait_for_url(f"{live_server}/staff/")

    # Upload the notice's text file, preview it, save the draft, publish.
    source = tmp_path / "dongguan-2024.txt"
    source.write_text(seed_text, encoding="utf-8")
    page.get_by_role("link", name="公示管理").first.click()
    page.get_by_role("link", name="导入新公示").click()
    page.get_by_label("网址名称（slug）").fill("dongguan")
    page.set_input_files('input[type="file"]', str(source))
    page.get_by_role("button", name="预览").click()
    assert page.locator("#preview-title").is_visible()
    assert "解析无警告" in page.content()
    page.get_by_role("button", name="保存为草稿").click()
    page.wait_for_url("**/staff/notices/dongguan")
    page.get_by_role("button", name="发布", exact=True).click()
    page.get_by_role("button", name="确认发布").click()  # the confirmation names the counts
    page.wait_for_url("**/staff/notices/dongguan")
    violations = browser_page.axe_violations()
    assert violations == [], dump(violations)

    first_finding = re.search(r"1\.针对“([^”]+)”", seed_text)
    assert first_finding
    public = page.context.new_page()
    opened = public.goto(f"{live_server}/notices/dongguan")
    assert opened is not None and opened.status == 200
    assert first_finding.group(1) in public.locator("#finding-1").inner_text()

    # Revise: paste a changed text, preview shows the change, save; the public page follows.
    page.get_by_role("link", name="修订").click()
    page.get_by_label("公示全文").fill(
        seed_text.replace("深入贯彻落实中央", "深入贯彻落实党中央", 1)
    )
    page.get_by_role("button", name="预览").click()
    assert page.locator(".diff .d-add").count() >= 1
    page.get_by_label("修订说明（公开显示）").fill("更正表述。")  # required once published
    page.get_by_role("button", name="保存修订").click()
    page.wait_for_url("**/staff/notices/dongguan")
    public.reload()
    assert "深入贯彻落实党中央" in public.content()

    # Withdraw with a note: the public page answers 410 and shows it.
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_label("撤回说明（公开显示）").fill("内容更正中，稍后重新发布。")
    page.get_by_role("button", name="撤回").click()
    page.wait_for_url("**/staff/notices/dongguan")
    response = public.goto(f"{live_server}/notices/dongguan")
    assert response is not None and response.status == 410
    assert "内容更正中" in public.content()
    assert browser_page.console_errors == []


def second_step(page: Any, app: Flask, user: Any) -> None:
    page.wait_for_url("**/staff/login/verify")
    page.get_by_label("验证码").fill(totp_code_for(app, user.id))
    page.get_by_role("button", name="验证").click()


def test_viewer_cannot_reach_the_publish_page(
    app: Flask, live_server: str, browser_page: Any, make_user: Any, published_notice: str
) -> None:
    page = browser_page.page
    viewer = make_user("viewer")
    log_in(page, live_server, viewer.email)
    second_step(page, app, viewer)  # every role has a second factor
    page.wait_for_url(f"{live_server}/staff/")
    assert page.get_by_role("link", name="公示管理").count() == 0
    response = page.goto(f"{live_server}/staff/notices/{published_notice}")
    assert response is not None and response.status == 403
    response = page.goto(f"{live_server}/staff/notices/new")
    assert response is not None and response.status == 403


def test_editor_enrols_totp_through_an_admins_link_by_typing_the_shown_secret(
    live_server: str, browser_page: Any, make_user: Any, runner: Any
) -> None:
    page = browser_page.page
    editor = make_user("editor", totp=False)
    log_in(page, live_server, editor.email)
    assert "绑定链接" in page.content()  # the password alone does not enrol
    link = runner.invoke(args=["users", "enrol-link", editor.email]).output.strip()
    page.goto(live_server + "/" + link.split("/", 3)[3])
    page.get_by_label("密码").fill(STAFF_PASSWORD)
    page.get_by_role("button", name="继续").click()
    assert page.locator("img.qr").is_visible()
    secret = page.locator("#totp-secret").inner_text().strip()
    page.get_by_label("验证码").fill(pyotp.TOTP(secret).now())
    page.get_by_role("button", name="确认绑定").click()
    assert page.locator(".recovery-codes li").count() == 10
    page.get_by_role("link", name="我已保存，继续").click()
    page.wait_for_url(f"{live_server}/staff/")


def test_security_key_registers_and_logs_in_with_a_virtual_authenticator(
    app: Flask, live_server: str, browser_page: Any, make_user: Any
) -> None:
    page = browser_page.page
    # WebAuthn needs a domain as relying party id, not an IP address: same server, localhost.
    base = live_server.replace("127.0.0.1", "localhost")
    cdp = page.context.new_cdp_session(page)
    cdp.send("WebAuthn.enable")
    authenticator = cdp.send(
        "WebAuthn.addVirtualAuthenticator",
        {
            "options": {
                "protocol": "ctap2",
                "transport": "usb",
                "hasResidentKey": False,
                "hasUserVerification": True,
                "isUserVerified": True,
                "automaticPresenceSimulation": True,
            }
        },
    )["authenticatorId"]
    user = make_user("triager")
    log_in(page, base, user.email)
    second_step(page, app, user)
    page.wait_for_url(f"{base}/staff/")

    page.goto(f"{base}/staff/account/2fa")  # just logged in: no re-authentication needed
    page.get_by_label("密钥名称").fill("办公室U盾")
    page.get_by_role("button", name="注册安全密钥").click()
    # Its first factor with recovery codes (made_user had none): shown once, then the account.
    page.locator(".recovery-codes").wait_for(timeout=10000)
    assert page.locator(".recovery-codes li").count() == 10
    page.get_by_role("link", name="我已保存，继续").click()
    page.wait_for_url(f"{base}/staff/account")
    assert "办公室U盾" in page.content()
    assert browser_page.axe_violations() == [], dump(browser_page.axe_violations())
    stored = cdp.send("WebAuthn.getCredentials", {"authenticatorId": authenticator})
    assert len(stored["credentials"]) == 1  # the key holds it; the server only its public key

    page.get_by_role("button", name="退出").first.click()
    log_in(page, base, user.email)
    page.wait_for_url("**/staff/login/verify")
    page.get_by_role("button", name="使用安全密钥").click()
    page.wait_for_url(f"{base}/staff/")

    # Sudo mode with the key: the last authentication counts as too old, so changing the
    # second factor asks for the password and the key again, then goes on.
    app.config["STAFF_REAUTH_MINUTES"] = -1
    page.goto(f"{base}/staff/account/2fa")
    page.wait_for_url("**/staff/reauth?**")
    app.config["STAFF_REAUTH_MINUTES"] = 10
    page.get_by_label("密码").fill(STAFF_PASSWORD)
    page.get_by_role("button", name="使用安全密钥").click()
    page.wait_for_url(f"{base}/staff/account/2fa")
    assert page.get_by_role("button", name="注册安全密钥").is_visible()
    with app.app_context():
        from sqlalchemy import select

        from portal.audit import Event
        from portal.extensions import db

        methods = [
            e.details.get("method")
            for e in db.session.scalars(select(Event).where(Event.action == "login.success"))
        ]
        reauths = db.session.scalars(select(Event).where(Event.action == "login.reauth")).all()
    assert methods == ["totp", "webauthn"] and len(reauths) == 1


def fits_the_screen(page: Any) -> bool:
    """No sideways scrolling of the whole page at 375 px (wide tables scroll in their box)."""
    return page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")


def test_admin_sets_up_a_second_office_its_round_and_its_triager(
    app: Flask, live_server: str, browser_page: Any, make_user: Any, published_notice: str
) -> None:
    page = browser_page.page
    admin = make_user("admin")
    log_in(page, live_server, admin.email)
    page.wait_for_url("**/staff/login/verify")
    page.get_by_label("验证码").fill(totp_code_for(app, admin.id))
    page.get_by_role("button", name="验证").click()
    page.wait_for_url(f"{live_server}/staff/")

    page.get_by_role("link", name="单位管理").first.click()
    page.get_by_label("单位全称").fill("佛山市南海区教育局")
    page.get_by_label("简称").fill("南海教育")
    page.get_by_label("网址名（公开网址 /offices/网址名）").fill("nanhai-edu")
    page.get_by_role("button", name="创建").click()
    page.wait_for_url("**/staff/offices/nanhai-edu")
    page.get_by_label("联系电话").fill("0757-86281234")
    page.get_by_label("IMAP 密码").fill("imap-secret-Kx93")
    page.get_by_role("button", name="保存").click()
    page.wait_for_url("**/staff/offices/nanhai-edu")
    assert "已保存密码" in page.content() and "imap-secret-Kx93" not in page.content()
    assert browser_page.axe_violations() == [], dump(browser_page.axe_violations())
    assert fits_the_screen(page)

    page.get_by_role("link", name="巡察轮次").first.click()
    page.get_by_label("轮次名称").fill("十五届区委第五轮巡察")
    page.get_by_label("开始日期").fill("2024-03-01")
    page.get_by_label("结束日期").fill("2024-02-01")  # before the start: refused, kept
    page.get_by_label("网址名").fill("r5")
    page.get_by_role("button", name="创建").click()
    assert "结束日期不能早于开始日期" in page.content()
    assert page.get_by_label("轮次名称").input_value() == "十五届区委第五轮巡察"
    page.get_by_label("结束日期").fill("2024-05-31")
    page.get_by_role("button", name="创建").click()
    page.wait_for_url("**/staff/rounds")
    assert "2024年3月1日 — 2024年5月31日" in page.content()
    assert browser_page.axe_violations() == [], dump(browser_page.axe_violations())
    assert fits_the_screen(page)

    page.goto(f"{live_server}/staff/users")
    page.get_by_label("邮箱").fill("li@nanhai.test")
    page.get_by_label("角色").select_option("triager")
    page.get_by_label("佛山市南海区教育局").check()
    page.get_by_label("初始密码").fill("a long and rare passphrase 88")
    page.get_by_role("button", name="创建").click()
    page.wait_for_url("**/staff/users")
    assert "南海教育·办理人员" in page.content()
    assert browser_page.axe_violations() == [], dump(browser_page.axe_violations())
    assert fits_the_screen(page)

    public = page.context.new_page()
    for url in (f"/notices/{published_notice}", "/", "/offices/nanhai-edu"):
        response = public.goto(f"{live_server}{url}")
        assert response is not None and response.status == 200, url
        assert fits_the_screen(public), url
    assert public.get_by_role("link", name="0757-86281234").get_attribute("href") == (
        "tel:075786281234"
    )
    # The refused round form answered 400 on purpose; nothing else may have failed.
    assert [e for e in browser_page.console_errors if "400 (BAD REQUEST)" not in e] == []
