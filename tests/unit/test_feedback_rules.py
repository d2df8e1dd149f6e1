import pytest

from bot.cases.rules import SlaPolicy
from bot.config import Settings
from bot.feedback.rules import only_praise

POLICY = SlaPolicy.load(Settings.from_env({}).sla_policy_path)


@pytest.mark.parametrize(
    ("text", "satisfaction", "praise"),
    [
        ("嘎嘎好，师傅老实在了，修完还帮俺把厨房灯泡换了", ("satisfied", 0.99), True),
        ("洗车店老板很实诚，不乱推销", ("satisfied", 0.93), True),
        ("洗车店老板很实诚，不乱推销", ("satisfied", 0.85), False),  # not sure enough
        ("师傅自己拿我手机点了五星", ("satisfied", 0.9), False),  # a score named: maybe pressed for
        ("师傅让我当着他的面点好评", ("satisfied", 0.96), False),
        ("app的投诉入口找不到，藏得比宝藏还深", ("satisfied", 0.92), False),  # 投诉
        ("师傅人挺好的，就是没按时来", ("satisfied", 0.9), False),  # something went wrong
        ("师傅很专业，热水器漏电的问题查出来了", ("satisfied", 0.95), False),  # danger named
        ("呵呵，真好", ("satisfied", 0.95), False),  # a sneer
        ("服务很好，能帮我再看看空调吗？", ("satisfied", 0.95), False),  # a question
        ("装得不错", ("neutral", 0.95), False),
    ],
)
def test_praise_alone_is_told_from_a_complaint(
    text: str, satisfaction: tuple[str, float], praise: bool
) -> None:
    assert only_praise(POLICY, text, *satisfaction) is praise
