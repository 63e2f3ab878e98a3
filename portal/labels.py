"""Human labels for the codes staff would otherwise read: audit actions and actors, and one
way of writing a moment and a day (Asia/Shanghai) on every page.

Base layer: no feature imports. Channel, status and role labels stay beside their code lists
(intake.models.CHANNEL_LABELS, triage.workflow.STATUS_LABELS, staff.models.ROLE_LABELS);
this module holds the labels that belong to no one feature.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime

from flask_babel import LazyString
from flask_babel import lazy_gettext as _l

from portal.workdays import to_local

# Every audit action a person may read in a history or the audit log.
ACTION_LABELS: dict[str, LazyString] = {
    "canned.create": _l("新增常用答复"),
    "canned.edit": _l("修改常用答复"),
    "canned.restore": _l("恢复常用答复"),
    "canned.retire": _l("停用常用答复"),
    "attachment.download": _l("下载附件"),
    "audit.view": _l("查看审计日志"),
    "finding.status": _l("更新问题整改状态"),
    "intake.bulk_import": _l("批量导入意见"),
    "ledger.export": _l("导出台账"),
    "login.failure": _l("登录失败"),
    "login.lockout": _l("账户暂时锁定"),
    "login.reauth": _l("重新验证身份"),
    "login.success": _l("登录"),
    "logout": _l("退出登录"),
    "mail.delete": _l("删除隔离邮件"),
    "mail.download": _l("下载原始邮件"),
    "mail.release": _l("放行隔离邮件"),
    "notice.feedback_window": _l("设置意见征集时间"),
    "notice.import": _l("导入公示"),
    "notice.publish": _l("发布公示"),
    "notice.revise": _l("修订公示"),
    "notice.round": _l("设置巡察轮次"),
    "notice.withdraw": _l("撤回公示"),
    "office.create": _l("新建单位"),
    "office.update": _l("修改单位"),
    "personal_data.view": _l("查看个人信息"),
    "receipt.secret_mailed": _l("向反映人邮箱重发查询密码"),
    "reply.publication_approved": _l("批准公开答复"),
    "reply.publication_rejected": _l("不予公开答复"),
    "reply.publication_requested": _l("申请公开答复"),
    "reply.send": _l("发送答复"),
    "report.download": _l("下载报告"),
    "round.create": _l("新建巡察轮次"),
    "submission.follow_up": _l("反映人补充"),
    "submission.follow_up_review": _l("审核补充内容"),
    "submission.identity_decision": _l("处理身份争议"),
    "submission.identity_dispute": _l("身份争议（非本人提交）"),
    "submission.pause": _l("请群众补充（答复期限暂停）"),
    "submission.rating": _l("群众评价答复"),
    "submission.resume": _l("恢复计算答复期限"),
    "submission.purge": _l("清除过期个人信息"),
    "submission.record": _l("登记"),
    "submission.route": _l("分办到承办单位"),
    "submission.status": _l("更改状态"),
    "track.open_by_phone": _l("凭回执编号和电话查询"),
    "submissions.purge": _l("清除过期个人信息"),
    "triage.assign": _l("分派经办人"),
    "triage.digest": _l("发送待办提醒"),
    "triage.finding.confirm": _l("确认关联问题"),
    "triage.finding.remove": _l("移除关联问题"),
    "triage.merge": _l("合并重复意见"),
    "triage.note": _l("添加内部备注"),
    "triage.referral": _l("转办"),
    "triage.suggestion.dismiss": _l("驳回系统建议"),
    "user.create": _l("新建账户"),
    "user.disable": _l("停用账户"),
    "user.enrol_link": _l("生成绑定链接"),
    "user.membership": _l("修改单位角色"),
    "user.password_change": _l("修改密码"),
    "user.password_change_failure": _l("修改密码失败"),
    "user.recovery_codes": _l("重新生成恢复码"),
    "user.role": _l("更改账户角色"),
}

# Actors that are not a staff account.
SYSTEM_ACTORS: dict[str, LazyString] = {
    "cli": _l("系统"),
    "system": _l("系统"),
    "seed": _l("系统"),
    "mail": _l("系统（邮件接收）"),
    "public": _l("市民"),
    "citizen": _l("市民"),
    "submitter": _l("反映人"),
    "email (other sender)": _l("其他发件人（非原反映人邮箱）"),
}


def action_label(action: str) -> str:
    """The words for an audit action; an unknown one reads as "其他操作", never as its code."""
    label = ACTION_LABELS.get(action)
    return str(label) if label is not None else str(_l("其他操作"))


def actor_user_id(actor: str | None) -> int | None:
    """The user id of a "user:<id>:<email>" actor, else None."""
    parts = (actor or "").split(":", 2)
    if len(parts) >= 2 and parts[0] == "user" and parts[1].isdigit():
        return int(parts[1])
    return None


def actor_label(actor: str | None, names: Mapping[int, str]) -> str:
    """Who did it, in words: a staff member's name (from ``names``, id → name), "系统" or
    "市民"; a deleted account reads "工作人员（已删除）" instead of its raw form."""
    if not actor:
        return str(SYSTEM_ACTORS["system"])
    user_id = actor_user_id(actor)
    if user_id is not None:
        return names.get(user_id) or str(_l("工作人员（已删除）"))
    label = SYSTEM_ACTORS.get(actor.split(":", 1)[0])
    # Free-text actors (a staff member's typed name on a note) are already words.
    return str(label) if label is not None else actor


def when(moment: datetime | None) -> str:
    """A moment as every page writes it: Beijing time, "2024-02-02 14:05"."""
    return "—" if moment is None else f"{to_local(moment):%Y-%m-%d %H:%M}"


def day(value: date | datetime | None) -> str:
    """A day as every page writes it ("2024-02-02"); a moment is taken in Beijing time."""
    if value is None:
        return "—"
    if isinstance(value, datetime):
        value = to_local(value).date()
    return value.isoformat()
