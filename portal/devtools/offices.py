"""Many offices, rounds and notices for `flask dev seed --offices N --notices M`.

Offices get plausible unit names (district x bureau), rounds are 第N轮巡察, and every notice is
one of the sample notices (the seed notice and tests/data/notices/*) rewritten for its office:
its own title line and its own finding titles, drawn from a bank so titles vary across notices.
Everything goes through the services (create_office, create_round, import_notice), so the rows
are exactly what staff would have made.
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

from sqlalchemy import func, select

from portal.extensions import db
from portal.notices.models import Notice
from portal.notices.service import import_notice
from portal.offices.models import Office, Round
from portal.offices.service import create_office, create_round, default_office, round_by_slug

ROOT = Path(__file__).resolve().parents[2]
SAMPLE_NOTICES = (
    ROOT.parent / "shared" / "notices" / "dongguan-procuratorate-2024-02-02.txt",
    *sorted((ROOT / "tests" / "data" / "notices").glob("*.txt")),
)
DISTRICTS = ("东城区", "西城区", "南湖区", "北山区", "江滨区", "高新区", "临港区", "青溪县",
             "石门县", "云岭县")  # fmt: skip
BUREAUS = (
    ("市场监督管理局", "市场监管局"), ("教育局", "教育局"), ("卫生健康局", "卫健局"),
    ("人民检察院", "检察院"), ("交通运输局", "交通局"), ("住房和城乡建设局", "住建局"),
    ("自然资源局", "自然资源局"), ("生态环境分局", "生态环境分局"), ("财政局", "财政局"),
    ("民政局", "民政局"), ("人力资源和社会保障局", "人社局"), ("农业农村局", "农业农村局"),
    ("文化广电旅游体育局", "文广旅体局"), ("水务局", "水务局"), ("应急管理局", "应急局"),
    ("城市管理和综合执法局", "城管局"), ("司法局", "司法局"), ("医疗保障局", "医保局"),
    ("统计局", "统计局"), ("退役军人事务局", "退役军人局"),
)  # fmt: skip
# Finding titles: a subject and a shortcoming, e.g. “公务用车管理制度执行不严”.
SUBJECTS = (
    "落实上级重大决策部署", "食品安全监管", "执法办案监督制约", "干部选拔任用", "财务报销审核",
    "公务用车管理", "信访件办理", "政务公开", "行政审批服务", "安全生产隐患排查", "基层党组织建设",
    "意识形态工作责任制", "专项资金使用", "政府采购", "国有资产管理", "机关食堂管理",
    "涉案财物管理", "作风建设", "“三重一大”决策", "上轮巡察反馈问题整改", "窗口服务",
    "合同管理", "干部档案管理", "党员教育管理", "廉政风险防控",
)  # fmt: skip
SHORTCOMINGS = (
    "不到位", "不规范", "存在短板", "制度执行不严", "监督制约不够", "整改不彻底", "流于形式",
    "责任压得不实", "推进缓慢", "存在廉洁风险", "群众反映较多", "长效机制不健全",
)  # fmt: skip
CN_NUMBERS = "一二三四五六七八九十"
# A finding's opening line in any sample: 1.针对“X”问题 / 1．关于“X”的问题 / 1、关于"X"问题.
FINDING_TITLE_RE = re.compile(
    r"^(?P<head>\s*\d+[.．、]\s*(?:针对|关于)\s*)[“\"](?P<title>.+?)[”\"](?P<tail>\s*的?问题)",
    re.MULTILINE,
)
# The first line of a sample that opens with its own title (…的通报 / …的公示).
TITLE_LINE_RE = re.compile(r"^[^\n。]*(?:通报|公示|公告)\s*\n")


@dataclass(frozen=True)
class Estate:
    offices: list[Office]
    rounds: list[Round]
    notices: list[Notice]


def cn_number(n: int) -> str:
    """1..99 in Chinese numerals (第十二轮)."""
    tens, ones = divmod(n, 10)
    if n <= 10:
        return CN_NUMBERS[n - 1]
    return (
        (CN_NUMBERS[tens - 1] if tens > 1 else "") + "十" + (CN_NUMBERS[ones - 1] if ones else "")
    )


def office_name(index: int) -> tuple[str, str]:
    """The ``index``-th generated unit: (full name, short name); distinct for every index."""
    district = DISTRICTS[index % len(DISTRICTS)]
    bureau, short = BUREAUS[(index // len(DISTRICTS)) % len(BUREAUS)]
    cycle = index // (len(DISTRICTS) * len(BUREAUS))
    suffix = f"第{cn_number(cycle + 1)}分局" if cycle else ""
    return f"{district}{bureau}{suffix}", f"{district}{short}{suffix}"


def ensure_offices(count: int, *, actor: str = "seed") -> list[Office]:
    """``count`` offices in all: the existing ones first, then generated units (slug u-001…)."""
    existing = list(db.session.scalars(select(Office).order_by(Office.id)))
    if not existing:
        existing = [default_office()]
    index = 0
    while len(existing) < count:
        slug = f"u-{index + 1:03d}"
        index += 1
        if any(o.slug == slug for o in existing):
            continue
        name, short = office_name(index - 1)
        existing.append(create_office(slug, name=name, short_name=short, actor=actor))
    return existing[: max(count, 1)]


def ensure_rounds(count: int, *, today: date, actor: str = "seed") -> list[Round]:
    """Rounds r-1…r-count, one every four months back from ``today`` (oldest first)."""
    rounds = []
    for number in range(1, count + 1):
        slug = f"r-{number}"
        found = round_by_slug(slug)
        if found is None:
            starts = today - timedelta(days=120 * (count - number + 1))
            found = create_round(
                slug,
                name=f"第{cn_number(number)}轮巡察",
                inspection_group=f"市委第{cn_number((number - 1) % 6 + 1)}巡察组",
                starts_on=starts,
                ends_on=starts + timedelta(days=60),
                actor=actor,
            )
        rounds.append(found)
    return rounds


def notice_text(sample: str, office: Office, round_: Round, rng: random.Random) -> str:
    """``sample`` rewritten for ``office``: its title line and fresh, distinct finding titles."""
    pool = [f"{s}{c}" for s in SUBJECTS for c in SHORTCOMINGS]
    titles = iter(rng.sample(pool, len(FINDING_TITLE_RE.findall(sample))))
    body = FINDING_TITLE_RE.sub(lambda m: f"{m['head']}“{next(titles)}”{m['tail']}", sample)
    body = TITLE_LINE_RE.sub("", body, count=1)
    title = f"中共{office.name}党组关于{round_.name}整改进展情况的通报"
    return f"{title}\n{body}"


def seed_notices(
    offices: list[Office],
    rounds: list[Round],
    count: int,
    *,
    rng: random.Random,
    progress: Callable[[int], None] | None = None,
) -> list[Notice]:
    """``count`` published notices: notice i belongs to office i mod N, in round (i div N);
    commits every 50 (parsing dominates)."""
    samples = [path.read_text(encoding="utf-8") for path in SAMPLE_NOTICES if path.exists()]
    if count and not samples:
        raise FileNotFoundError("no sample notice: " + ", ".join(map(str, SAMPLE_NOTICES)))
    start = db.session.scalar(select(func.count(Notice.id))) or 0
    notices = []
    for i in range(count):
        office = offices[i % len(offices)]
        round_ = rounds[(i // len(offices)) % len(rounds)]
        text = notice_text(samples[i % len(samples)], office, round_, rng)
        slug = f"{office.slug}-{round_.slug}-{start + i + 1}"
        result = import_notice(
            text, slug=slug, publish=True, actor="seed", office=office, round_=round_
        )
        notices.append(result.notice)
        if (i + 1) % 50 == 0:
            db.session.commit()
            if progress:
                progress(i + 1)
    db.session.commit()
    return notices


def build_estate(
    offices: int, notices: int, *, rng: random.Random, progress: Callable[[int], None] | None = None
) -> Estate:
    """Offices, a few rounds and published notices spread over both (commits)."""
    from portal.workdays import local_today

    office_rows = ensure_offices(offices)
    round_count = max(1, min(6, -(-notices // max(len(office_rows), 1))))
    round_rows = ensure_rounds(round_count, today=local_today())
    db.session.commit()
    notice_rows = seed_notices(office_rows, round_rows, notices, rng=rng, progress=progress)
    return Estate(office_rows, round_rows, notice_rows)
