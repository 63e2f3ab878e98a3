"""Finding suggestions (portal/triage/routing.py) on the seed notice.

Accuracy targets are measured on tests/data/routing_dev.jsonl (the set the weights and
DEFAULT_THRESHOLD were chosen on) and, with lower floors, on routing_heldout.jsonl
(never used for tuning). The metrics live in bench/routing_accuracy.py.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from portal.triage.routing import DEFAULT_THRESHOLD, FindingDoc, Router, Suggestion

ROOT = Path(__file__).resolve().parent.parent


def _load_bench() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "routing_accuracy", ROOT / "bench" / "routing_accuracy.py"
    )
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("routing_accuracy", module)
    spec.loader.exec_module(module)
    return module


bench = _load_bench()


def seed_findings() -> list[FindingDoc]:
    """The seed notice's findings, through the notices parser (category + title + measures)."""
    from portal.notices.parse import parse_notice

    parsed = parse_notice(bench.notice_path().read_text(encoding="utf-8"))
    return [
        FindingDoc(
            f.number,
            f.title,
            "\n".join([c.title, f.title, *(m.text for m in f.measures)]),
        )
        for c in parsed.categories
        for f in c.findings
    ]


@pytest.fixture(scope="module")
def findings() -> list[FindingDoc]:
    docs = seed_findings()
    assert [d.number for d in docs] == list(range(1, 20))
    return docs


@pytest.fixture(scope="module")
def cold(findings: list[FindingDoc]) -> Router:
    return Router(findings)


@pytest.fixture(scope="module")
def dev_figures(cold: Router):
    return bench.evaluate(cold, bench.load_cases(bench.DEV))


@pytest.fixture(scope="module")
def heldout_figures(cold: Router):
    return bench.evaluate(cold, bench.load_cases(bench.HELDOUT))


def test_data_sets_cover_every_finding_and_kind() -> None:
    for path, minimum in ((bench.DEV, 150), (bench.HELDOUT, 55)):
        cases = bench.load_cases(path)
        assert len(cases) >= minimum
        kinds = [c["kind"] for c in cases]
        assert set(kinds) == set(bench.KINDS)
        assert all((c["kind"] == "out_of_scope") == (c["findings"] == []) for c in cases)
        assert {n for c in cases for n in c["findings"]} == set(range(1, 20))
    dev = bench.load_cases(bench.DEV)
    assert sum(c["kind"] == "colloquial" for c in dev) >= len(dev) / 3
    assert sum(c["kind"] == "out_of_scope" for c in dev) >= 25


def test_dev_colloquial_cold_start(dev_figures) -> None:
    assert dev_figures.rate(dev_figures.top1, "colloquial") >= 0.85
    assert dev_figures.rate(dev_figures.top3, "colloquial") >= 0.95


def test_dev_notice_wording(dev_figures) -> None:
    assert dev_figures.rate(dev_figures.top1, "notice") >= 0.9


def test_dev_out_of_scope(dev_figures) -> None:
    assert dev_figures.oos_precision >= 0.95
    assert dev_figures.oos_recall >= 0.85


def test_heldout_floors(heldout_figures) -> None:
    for kind in ("notice", "colloquial"):
        assert heldout_figures.rate(heldout_figures.top1, kind) >= 0.7
        assert heldout_figures.rate(heldout_figures.top3, kind) >= 0.8
    assert heldout_figures.oos_precision >= 0.9
    assert heldout_figures.oos_recall >= 0.6


@pytest.mark.parametrize(
    ("text", "number"),
    [
        ("过年单位又给每人发了两千块超市卡，钱从哪来的？", 14),
        ("你们检察院的公众号半年没更新了", 4),
        ("听说新来的科长是某领导的亲戚", 15),
    ],
)
def test_briefed_examples(cold: Router, text: str, number: int) -> None:
    got = cold.suggest(text)
    assert got and got[0].number == number
    assert got[0].title == next(f.title for f in seed_findings() if f.number == number)


def test_out_of_scope_is_empty(cold: Router) -> None:
    for text in ("邻居家的狗天天半夜叫", "我收到一张闯红灯的罚单", "今天天气真好", "", "   "):
        assert cold.suggest(text) == []


def test_learning_fixes_colloquial_wording(findings: list[FindingDoc]) -> None:
    # "接待" is also official-hospitality spending in the lexicon, so a complaint about
    # how visitors are received goes to the wrong finding (or nowhere) cold.
    rude_reception = "检察官接待群众时说话很冲，爱答不理"
    rude_duty_officer = "我来反映情况，值班的人一脸不耐烦"
    router = Router(findings)
    before = [router.suggest(rude_reception), router.suggest(rude_duty_officer)]
    assert all(not got or got[0].number != 7 for got in before)

    for example in (
        "接待室的检察官对来访群众爱答不理",
        "来反映问题，接待的人一脸不耐烦，说话很冲",
        "群众来访没人理，值班人员态度很差",
    ):
        router.learn(7, example)  # 常态化为民工作推进不够有力

    assert router.suggest(rude_reception)[0].number == 7
    assert router.suggest(rude_duty_officer)[0].number == 7
    # The examples do not capture unrelated comments.
    assert router.suggest("过年单位又给每人发了两千块超市卡")[0].number == 14
    assert router.suggest("邻居家的狗天天半夜叫，吵得睡不着") == []


def test_examples_at_construction_equal_learning(findings: list[FindingDoc]) -> None:
    examples = {7: ["接待室的检察官对来访群众爱答不理", "群众来访没人理，值班人员态度很差"]}
    built = Router(findings, examples=examples)
    learned = Router(findings)
    for text in examples[7]:
        learned.learn(7, text)
    text = "检察官接待群众时爱答不理"
    assert built.suggest(text) == learned.suggest(text)
    assert built.suggest(text)[0].number == 7


def test_learn_rejects_unknown_finding(cold: Router) -> None:
    with pytest.raises(KeyError):
        cold.learn(99, "whatever")


def test_threshold_and_limit(findings: list[FindingDoc]) -> None:
    text = "单位采购电脑有回扣，工会还发购物卡"
    everything = Router(findings, threshold=0.0).suggest(text, limit=19)
    assert len(everything) == 19
    assert Router(findings, threshold=0.0).suggest(text, limit=1) == everything[:1]
    strict = Router(findings, threshold=1.01).suggest(text)
    assert strict == []
    default = Router(findings).suggest(text, limit=5)
    assert default and all(s.score >= DEFAULT_THRESHOLD for s in default)
    assert {13, 14} <= {s.number for s in default}
    assert Router(findings).suggest(text, limit=0) == []


def test_no_findings_suggests_nothing() -> None:
    assert Router([]).suggest("单位发购物卡") == []


def _many_findings(findings: list[FindingDoc], count: int) -> list[FindingDoc]:
    return [
        FindingDoc(i + 1, findings[i % len(findings)].title, findings[i % len(findings)].text)
        for i in range(count)
    ]


def test_a_fifty_finding_notice_still_ranks_every_comment(findings: list[FindingDoc]) -> None:
    # How fast this is, is measured by bench/routing_accuracy.py, not asserted here.
    router = Router(_many_findings(findings, 50))
    texts = [c["text"] for c in bench.load_cases(bench.DEV)]
    for text in texts:
        ranked = router.suggest(text)
        assert len(ranked) <= 5
        assert [s.score for s in ranked] == sorted((s.score for s in ranked), reverse=True)
        assert all(1 <= s.number <= 50 for s in ranked)

    # A long letter (many comments run together) is ranked by its opening: what follows the
    # first thousand characters changes nothing, which is what bounds the work per letter.
    letter = "".join(texts) * 2
    assert len(letter) > 5_000
    opening = letter[:1000]
    assert router.suggest(opening + letter[::-1]) == router.suggest(opening + "。" * 4_000)


_WEIRD = st.sampled_from(
    [
        "😀🔥👍",
        "\x00",
        "𠀀𠀁𪜀",
        "\u202eمرحبا\u202c",
        "שלום",
        "Ｕ盘",
        "\ufeff",
        "\u3000",
        "购物卡" * 3334,
        "x" * 10_000,
        "检察" * 5000,
        "12345",
        "\ud7ff\ue000\U0010ffff",
    ]
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=st.one_of(st.text(), _WEIRD, st.lists(_WEIRD | st.text()).map("".join)))
def test_any_text_is_safe(cold: Router, text: str) -> None:
    got = cold.suggest(text, limit=3)
    assert len(got) <= 3
    assert all(isinstance(s, Suggestion) and 0.0 <= s.score <= 1.0 for s in got)
    assert [s.score for s in got] == sorted((s.score for s in got), reverse=True)
    full = cold.scores(text)
    assert len(full) == 19 and all(0.0 <= s.score <= 1.0 for s in full)
    assert all(s.strength in {"strong", "medium", "weak"} for s in full)
    referral = cold.referral(text)
    assert referral is None or (referral.label.startswith("建议转办：") and referral.reasons)
    assert referral is None or got == []


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(example=st.text(max_size=200), text=st.text(max_size=200))
def test_learning_any_text_is_safe(findings: list[FindingDoc], example: str, text: str) -> None:
    router = Router(findings)
    router.learn(3, example)
    got = router.suggest(text)
    assert all(0.0 <= s.score <= 1.0 for s in got)
    assert [s.score for s in got] == sorted((s.score for s in got), reverse=True)


# --- other offices' notices, calibration, referral, explanations, learning (issue #15) ----------


@pytest.fixture(scope="module")
def other_routers() -> dict[str, tuple[list[FindingDoc], Router]]:
    found = {name: bench.other_findings(name) for name in bench.OTHER_SETS}
    return {name: (docs, Router(docs)) for name, docs in found.items()}


def test_other_offices_sets_have_the_hard_kinds() -> None:
    for name in bench.OTHER_SETS:
        dev, held = bench.other_sets(name)
        for path, minimum in ((dev, 40), (held, 20)):
            cases = bench.load_cases(path)
            assert len(cases) >= minimum
            assert all((c["kind"] == "out_of_scope") == (c["findings"] == []) for c in cases)
        forms = {c.get("form") for c in bench.load_cases(dev) + bench.load_cases(held)}
        assert {"traditional", "cantonese", "typo", "pinyin", "short", "long", "two"} <= forms
        long_texts = [c for c in bench.load_cases(held) if c.get("form") == "long"]
        assert long_texts and all(len(c["text"]) >= 300 for c in long_texts)


@pytest.mark.parametrize("name", list(bench.OTHER_SETS))
def test_other_offices_dev_figures(other_routers, name: str) -> None:
    """Floors a little under the dev figures; the old router had ~50% top-1 and left ~45% of
    in-scope comments without any suggestion on these notices."""
    _, router = other_routers[name]
    fig = bench.evaluate(router, bench.load_cases(bench.other_sets(name)[0]))
    in_scope = fig.in_scope_total
    assert sum(fig.top1.values()) / in_scope >= 0.9
    assert sum(fig.top3.values()) / in_scope >= 0.9
    assert fig.rate(fig.top1, "hard") >= 0.85
    assert fig.in_scope_empty_rate <= 0.05
    assert fig.oos_recall >= 0.9


def test_seed_figures_no_lower_with_normalisation_and_concepts(dev_figures) -> None:
    # The seed's dev figures before issue #15: colloquial top-1 0.989, top-3 1.000.
    assert dev_figures.rate(dev_figures.top1, "colloquial") >= 0.97
    assert dev_figures.rate(dev_figures.top3, "colloquial") >= 0.98
    assert dev_figures.in_scope_empty_rate <= 0.02


@pytest.mark.parametrize(
    ("text", "number"),
    [
        ("過年單位又給每人發了兩千塊超市卡，錢從哪來的？", 14),  # traditional
        ("你哋检察院嘅公众号半年冇更新", 4),  # Cantonese-flavoured
        ("新来的科长系某领导嘅亲戚", 15),
    ],
)
def test_seed_briefed_examples_however_written(cold: Router, text: str, number: int) -> None:
    got = cold.suggest(text)
    assert got and got[0].number == number


def test_complaints_about_other_bodies_get_a_referral(cold: Router) -> None:
    for text, kind in (
        ("医院的医生收病人红包", "health"),
        ("交警扣押了我的电动车不还", "traffic_police"),
        ("楼上邻居天天半夜装修", "neighbour"),
        ("物业公司乱收停车费", "property"),
    ):
        referral = cold.referral(text)
        assert referral is not None and referral.body_kind == kind, text
        assert referral.label.startswith("建议转办：") and referral.reasons
        assert cold.suggest(text) == []
    assert cold.referral("过年单位又给每人发了两千块超市卡") is None


def test_a_body_that_is_the_offices_own_business_is_not_referred(other_routers) -> None:
    _, hospital = other_routers["hospital"]
    assert hospital.referral("医生收红包，科室纪检也不管") is None
    assert hospital.suggest("医生收红包，科室纪检也不管")[0].number == 2
    _, bureau = other_routers["bureau"]
    assert bureau.referral("医生收红包") is not None
    # Naming the office makes it the office's business, whoever else is named.
    assert bureau.referral("你们局的干部占用耕地给医院盖停车场") is None


def test_suggestions_say_why(other_routers) -> None:
    _, bureau = other_routers["bureau"]
    best = bureau.suggest("村里良田被挖成鱼塘，田长制就是摆设")[0]
    assert best.number == 1 and best.strength in {"strong", "medium"}
    assert "良田 ≈ 耕地保护" in best.reasons, best.reasons
    weakest = bureau.scores("村里良田被挖成鱼塘")[-1]
    assert weakest.strength == "weak" and weakest.reasons == ()


def test_one_threshold_holds_across_notices(other_routers) -> None:
    """The old router's fixed scale silenced small notices: a comment in the notice's own
    words got no suggestion at all there."""
    _, school = other_routers["school"]
    assert [s.number for s in school.suggest("食堂太贵")][:1] == [3]
    _, hospital = other_routers["hospital"]
    assert [s.number for s in hospital.suggest("挂号太难")][:1] == [3]


def test_learning_generalises_to_rewordings(other_routers) -> None:
    """Two confirmed texts teach finding 5 the word 测绘, which the notice never uses: other
    wordings about the same thing (not near-copies) score higher and are suggested first."""
    docs, cold = other_routers["bureau"]
    router = Router(docs)
    for example in (
        "局里测绘的人手越来越少，都是五十多岁的人",
        "测绘和规划审批这块人手不够，没人接班",
    ):
        router.learn(5, example)
    for text in ("测绘员都快退休了", "搞测绘的年轻人留不住", "测绘那边招不到人", "测绘缺人"):
        before = next(s.score for s in cold.scores(text) if s.number == 5)
        got = router.suggest(text)
        assert got and got[0].number == 5, text
        assert got[0].score > before + 0.02, text


def test_confirmations_never_make_the_seed_figures_worse(findings: list[FindingDoc]) -> None:
    """Every seed dev text confirmed for its findings; the held-out figures stay as good."""
    cold_fig = bench.evaluate(Router(findings), bench.load_cases(bench.HELDOUT))
    taught = Router(findings)
    for case in bench.load_cases(bench.DEV):
        for number in case["findings"]:
            taught.learn(number, case["text"])
    fig = bench.evaluate(taught, bench.load_cases(bench.HELDOUT))
    assert sum(fig.top1.values()) >= sum(cold_fig.top1.values())
    assert sum(fig.top3.values()) >= sum(cold_fig.top3.values())
    assert fig.oos_recall >= cold_fig.oos_recall


def test_no_single_confirmation_makes_the_seed_figures_worse(findings: list[FindingDoc]) -> None:
    held = bench.load_cases(bench.HELDOUT)
    cold = bench.evaluate(Router(findings), held)
    for case in bench.load_cases(bench.DEV)[::4]:
        for number in case["findings"]:
            router = Router(findings)
            router.learn(number, case["text"])
            fig = bench.evaluate(router, held)
            assert sum(fig.top1.values()) >= sum(cold.top1.values()), case["text"]
            assert fig.oos_recall >= cold.oos_recall, case["text"]
