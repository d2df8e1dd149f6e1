from datetime import datetime, time, timedelta, timezone

import pytest

from bot.surveys.errors import IllegalSurveyTransition
from bot.surveys.model import SurveyStatus
from bot.surveys.rules import (
    Delivery,
    SurveyPolicy,
    asks_to_stop,
    asks_why_surveyed,
    brief_displeasure,
    check_transition,
    choose_delivery,
    done_with_a_wish,
    doubts_the_sender,
    english_verdict,
    fails_again,
    faint_praise_then_fault,
    first_send_time,
    in_quiet_hours,
    is_bad,
    mocks_praise,
    next_allowed,
    not_tried_yet,
    only_courtesy,
    only_faces,
    only_two_edged_smiles,
    parse_quiet_hours,
    reports_fixed,
    satisfied_with_reservation,
    says_it_went_wrong,
    says_no_verdict,
    says_not_done,
    says_nothing_more,
    says_problem_gone,
    score_from_satisfaction,
    shrugs,
    thumbs_verdict,
    wants_better_next_time,
    within_frequency_cap,
)

SHANGHAI = timezone(timedelta(hours=8))
POLICY = SurveyPolicy()


def at(hour: int, minute: int = 0, day: int = 20) -> datetime:
    return datetime(2026, 11, day, hour, minute, tzinfo=SHANGHAI)


@pytest.mark.parametrize(
    ("moment", "quiet"),
    [
        (at(20, 59), False),
        (at(21, 0), True),
        (at(23, 30), True),
        (at(0, 0), True),
        (at(8, 59), True),
        (at(9, 0), False),
        (at(14, 0), False),
    ],
)
def test_quiet_hours_across_midnight(moment: datetime, quiet: bool) -> None:
    assert in_quiet_hours(moment, POLICY) is quiet


def test_quiet_hours_within_a_day_and_disabled() -> None:
    lunch = SurveyPolicy(quiet_start=time(12, 0), quiet_end=time(14, 0))
    assert in_quiet_hours(at(12, 30), lunch) and not in_quiet_hours(at(14, 0), lunch)
    assert not in_quiet_hours(at(23, 0), SurveyPolicy(quiet_start=None, quiet_end=None))
    assert parse_quiet_hours("") == (None, None)
    with pytest.raises(ValueError):
        parse_quiet_hours("after dinner")


def test_a_survey_due_in_quiet_hours_waits_for_the_morning() -> None:
    assert next_allowed(at(22, 15), POLICY) == at(9, 0, day=21)
    assert next_allowed(at(2, 0, day=21), POLICY) == at(9, 0, day=21)
    assert next_allowed(at(15, 0), POLICY) == at(15, 0)


def test_first_send_is_the_delay_after_completion_outside_quiet_hours() -> None:
    assert first_send_time(at(10, 0), POLICY) == at(12, 0)
    assert first_send_time(at(19, 30), POLICY) == at(9, 0, day=21)  # 21:30 is quiet
    assert first_send_time(at(10, 0), SurveyPolicy(delay=timedelta(0))) == at(10, 0)


def test_frequency_cap() -> None:
    now = at(10, 0, day=20)
    assert within_frequency_cap(None, now, POLICY)
    assert not within_frequency_cap(now - timedelta(days=6, hours=23), now, POLICY)
    assert within_frequency_cap(now - timedelta(days=7), now, POLICY)


@pytest.mark.parametrize(
    ("hours_since_last_message", "template", "push", "expected"),
    [
        (1, False, True, Delivery.CUSTOMER_SERVICE),
        (47.9, False, True, Delivery.CUSTOMER_SERVICE),
        (48.1, True, True, Delivery.TEMPLATE),
        (48.1, False, True, Delivery.UNREACHABLE),
        (None, True, True, Delivery.TEMPLATE),
        (1, True, False, Delivery.UNREACHABLE),
    ],
)
def test_the_48_hour_window_decides_how_to_ask(
    hours_since_last_message: float | None, template: bool, push: bool, expected: Delivery
) -> None:
    now = at(10, 0)
    last = None if hours_since_last_message is None else now - timedelta(hours=hours_since_last_message)
    delivery, reason = choose_delivery(last, now, template_configured=template, can_push=push)
    assert delivery is expected
    assert (reason is None) is (expected is Delivery.CUSTOMER_SERVICE)


@pytest.mark.parametrize(
    ("label", "confidence", "score"),
    [
        ("satisfied", 0.95, 5),
        ("satisfied", 0.6, 4),
        ("neutral", 0.9, 3),
        ("dissatisfied", 0.6, 2),
        ("dissatisfied", 0.9, 1),
        (None, None, None),
    ],
)
def test_free_text_is_scored_from_the_satisfaction_label(
    label: str | None, confidence: float | None, score: int | None
) -> None:
    assert score_from_satisfaction(label, confidence) == score


@pytest.mark.parametrize(
    ("text", "label", "score"),
    [
        ("装得挺快的，就是走的时候垃圾没带走", "dissatisfied", 2),  # still bad: a remediation case
        ("师傅人挺好，但是迟到了一个小时", "dissatisfied", 2),
        ("挺满意的，不过价格有点贵", "satisfied", 4),
        ("太差劲了，再也不找你们了", "dissatisfied", 1),
        ("非常满意，师傅专业又细心", "satisfied", 5),
        ("师傅挺好的就是来晚了", "satisfied", 4),  # no comma before 就是: it was scored 5
        ("整体满意，唯一的不足是等得久", "satisfied", 4),
        ("就是这个师傅太磨蹭了", "dissatisfied", 1),  # 就是 opening the complaint weighs nothing
        ("还可以，价格能再便宜点就更好了", "satisfied", 4),  # faint praise: it was a 5
        ("还行吧", "satisfied", 4),
        ("服务不错，价格有点贵", "satisfied", 4),  # a reservation without a "but": it was a 5
        ("师傅很好，来得稍微晚了点", "satisfied", 4),
    ],
)
def test_an_answer_weighing_good_against_bad_is_not_scored_at_an_extreme(
    text: str, label: str, score: int
) -> None:
    assert score_from_satisfaction(label, 0.95, text) == score


@pytest.mark.parametrize(
    ("text", "nothing"),
    [
        ("嗯嗯那个啥", True),
        ("呃……", True),
        ("等一下", True),
        ("我想想", True),
        ("好的", False),  # may well mean it was fine
        ("👍", False),
        ("😡😡", False),
        ("还行吧", False),
        ("嗯，挺好的", False),
        ("等等，师傅把地板刮花了", False),
        ("收到", True),  # a complaint to the model: scored 2 with a remediation case
        ("好的，知道了", True),
        ("明白了", True),
        ("不好说", True),  # a complaint to the model too
        ("说不清", True),
        ("emmm，不好评价", True),
        ("收到了", False),  # after a delivery: the job done
        ("行", False),
        ("知道了，师傅态度太差", False),
        ("不知道为什么又漏水了", False),
    ],
)
def test_filler_a_moment_asked_for_or_the_question_merely_heard_is_no_verdict(
    text: str, nothing: bool
) -> None:
    assert says_no_verdict(text) is nothing


@pytest.mark.parametrize(
    ("text", "untried"),
    [
        ("还没用呢", True),
        ("刚装好，还没试", True),
        ("东西收到了，还没用，不知道怎么样", True),
        ("刚到家还没拆箱", True),
        ("过几天再说", True),
        ("我还没用呢", True),
        ("没用", False),  # "useless": a verdict
        ("一点用没有", False),
        ("还没用就坏了", False),  # says more: the model's to read
        ("还没修好", False),  # a verdict
        ("还没装好", False),
        ("挺好的，还没怎么用", False),
        ("收到了", False),
        ("用了两天又坏了", False),
        ("还没来得及看", True),  # scored 2 with a remediation case
        ("没顾上看", True),
        ("还没验货", True),
        ("刚装好，还没怎么用，不好评价", True),
        ("没看到师傅", False),
        ("没检查就走了", False),
        ("等用几天再说", True),  # a goodbye to the model: the survey closed as declined
        ("用一阵子再告诉你", True),
        ("等我用用看", True),
        ("试试看吧", True),
        ("用几天就坏了", False),
        ("用一下就知道了", False),
        ("用用还行", False),
    ],
)
def test_not_tried_yet_is_no_verdict(text: str, untried: bool) -> None:
    assert not_tried_yet(text) is untried


@pytest.mark.parametrize(
    ("text", "wish"),
    [
        ("希望下次能准时点", True),  # satisfied 0.87 to the model: scored 5
        ("下次早点来", True),
        ("有待提高", True),
        ("还需改进", True),
        ("师傅很好，建议你们周末也能上门", False),  # a wish about something else
        ("以后还找这个专业的师傅", False),
        ("下次还找你们", False),
        ("师傅很准时", False),
    ],
)
def test_a_wish_for_better_next_time_is_told_from_praise(text: str, wish: bool) -> None:
    assert wants_better_next_time(text) is wish


@pytest.mark.parametrize(
    ("text", "fixed"),
    [
        ("上门了，修好了", True),  # a complaint to the model: scored 2, with an apology and a case
        ("已经修好了", True),  # a "no" to the model: the survey was declined
        ("网速恢复正常了", True),
        ("已解决", True),
        ("宽带通了", True),
        ("货到了，完好无损", True),
        ("修好了又坏了", False),
        ("修好了，但是收费太贵", False),  # the model weighs it
        ("没修好", False),
        ("还是没修好", False),
        ("解决不了", False),
        ("打不通了", False),
        ("还没收到", False),
        ("刚装好，还没用呢", False),
        ("问题依旧", False),
        ("收到了，还没装", False),  # after an installation: scored 4 as the job done
        ("保养做完车开着顺多了", True),  # a complaint to the intent model: scored 2 with a case
        ("网速比以前快多了", True),
        ("网速快了很多，但是费用也涨了", False),  # the model weighs it
        ("到货了，师傅还没来装", False),
        ("东西收到了，另一件还没到", False),
        ("还没到一个小时就修好了", True),
        ("修好了，还没来得及谢谢师傅", True),
    ],
)
def test_the_job_done_is_told_from_a_fault(text: str, fixed: bool) -> None:
    assert reports_fixed(text) is fixed


@pytest.mark.parametrize(
    ("text", "done"),
    [
        ("修好了，不过下次能不能提前打个电话", True),  # displeasure to the model (0.88): a 2 and a case
        ("修好了，希望下次准时点", True),
        ("修好了，但是师傅迟到了，希望下次准时", False),  # a fault named as well
        ("师傅迟到了，修好了，希望下次准时", False),
        ("希望下次早点来", False),  # nothing done
        ("修好了又坏了，希望下次认真点", False),
    ],
)
def test_the_job_done_with_a_wish_for_next_time(text: str, done: bool) -> None:
    assert done_with_a_wish(text) is done


@pytest.mark.parametrize(
    ("text", "faint"),
    [
        ("装得还行，就是师傅态度不太好", True),  # praise to the model (0.52): scored 4 and thanked
        ("网速还凑合，就是经常断网", True),
        ("修得还可以，不过收费太贵了", True),
        ("还可以，就是来得有点晚", False),  # the model weighs it: no fault word
        ("一般般，不过师傅很负责", False),  # the praise comes last
        ("满意，就是有点慢", False),  # 满意 is no faint praise
        ("价格跟平时差不多，还行，就是司机开得快", False),
        ("师傅态度不太好", False),  # no praise to weigh: other rules take it
    ],
)
def test_faint_praise_before_a_fault_is_displeasure(text: str, faint: bool) -> None:
    assert faint_praise_then_fault(text) is faint


@pytest.mark.parametrize(
    ("text", "not_done"),
    [
        ("没装好", True),  # satisfied 0.45 to the model: scored 4
        ("还没修好就走了", True),
        ("线没接好", True),
        ("问题没解决", True),
        ("刚装好，还没用呢", False),  # not tried: no verdict
        ("没问题，装好了", False),
        ("没想到这么快就修好了", False),
        ("有没有修好我也不知道", False),
        ("没装好之前一直漏水，现在好了", False),
        ("没换零件就修好了", False),
        ("清洁做得马马虎虎，角落都没擦", True),  # praise to the model (0.51): scored 4
        ("窗户没擦干净", True),
        ("厨房也没收拾", True),
        ("没扫码就走了", False),
        ("没拖地之前满地是灰，现在干净了", False),
        ("师傅把旧空调拆了没带走", True),  # praise to the model (0.87): scored 5
        ("包装垃圾也没收走", True),
        ("旧的带走了，新的装好了", False),
        ("师傅修得挺好，但是走的时候没把垃圾带走", True),  # satisfied: a 4
        ("没把地拖干净", True),
        ("没把旧热水器拆走", True),
        ("还没把门关好就走了，空调倒是装好了", False),  # 关 is no part of the job
        ("把垃圾都带走了", False),
        ("没想到他把垃圾也带走了", False),
    ],
)
def test_work_not_done_is_told_from_praise(text: str, not_done: bool) -> None:
    assert says_not_done(text) is not_done


@pytest.mark.parametrize(
    ("text", "again"),
    [
        ("我家空调不制冷了，师傅上周刚修过", True),  # praise to the model (0.91): thanked, scored 5
        ("马桶堵了，师傅昨天刚通过", True),
        ("宽带又断网了，昨天师傅刚来过", True),
        ("油烟机不转了，师傅装完第二天就这样", True),
        ("电视黑屏了，师傅上次来修完没几天", True),
        ("空调滴水，师傅刚装好的", True),
        ("刚修好的洗衣机又不转了", True),
        ("空调不制冷，师傅来了半小时就修好了，很专业", False),  # put right
        ("热水器漏水问题解决，师傅还留了电话", False),
        ("空调不制冷了", False),  # a fault, no visit: the model decides
        ("师傅刚来过，不漏水了", False),
        ("大晚上热水器坏了，师傅九点多还过来修，太感动了", False),
    ],
)
def test_a_fault_back_soon_after_a_visit_is_told_from_praise(text: str, again: bool) -> None:
    assert fails_again(text) is again


@pytest.mark.parametrize(
    ("text", "courtesy"),
    [
        ("拜拜", True),
        ("好的谢谢，拜拜啦👋", True),
        ("谢谢你们", True),
        ("Bye", True),
        ("good bye", True),  # scored 5: the model hears the "good"
        ("Thank you very much!", True),  # scored 4
        ("thank you, good job", False),
        ("挺满意的，拜拜", False),  # a verdict with the goodbye
        ("谢谢师傅，修得很好", False),
        ("谢谢你们让我等了三个小时", False),
        ("👍 谢谢", False),
        ("好的", False),  # no closing: left to the model
        ("/goodbye", False),
        ("谢谢关心", True),  # scored 5
        ("感谢回访", True),
        ("谢谢你们的关心", True),
    ],
)
def test_a_bare_closing_or_thank_you_says_nothing_about_the_service(text: str, courtesy: bool) -> None:
    assert only_courtesy(text) is courtesy


@pytest.mark.parametrize(
    ("text", "faces"),
    [
        ("[弱]", True),
        ("[强][强][强]", True),
        ("👏👏", True),
        ("❤️", True),  # with its variation selector
        ("👍🏻 ！", True),  # a skin tone and punctuation
        ("[发怒] 😡", True),
        ("[弱] 太慢了", False),  # words: left to the model
        ("好的", False),
        ("！！！", False),  # no picture in it
        ("[订单JD2026120100001]", False),  # too long to be a face
        ("[JD2026]", False),  # a bracketed order number, not a face's name
        ("/give_feedback", False),
        ("", False),
    ],
)
def test_a_message_of_pictures_only(text: str, faces: bool) -> None:
    assert only_faces(text) is faces


@pytest.mark.parametrize(
    ("text", "two_edged"),
    [
        ("[微笑]", True),
        ("🙂 [微笑]。", True),
        ("☺️", True),
        ("呵呵[微笑]", False),  # words: the model hears the sneer
        ("[微笑][强]", False),  # a thumbs-up beside it decides
        ("😊", False),  # a plain smile
    ],
)
def test_smiles_that_read_both_ways(text: str, two_edged: bool) -> None:
    assert only_two_edged_smiles(text) is two_edged


def test_what_counts_as_bad() -> None:
    assert is_bad(2, "satisfied") and is_bad(1, None)
    assert not is_bad(4, "dissatisfied")  # a good number decides over the tone
    assert is_bad(3, "dissatisfied") and not is_bad(3, "neutral")  # a middling one does not
    assert is_bad(None, "dissatisfied") and not is_bad(None, "neutral")


def test_transitions() -> None:
    check_transition(1, SurveyStatus.SCHEDULED, SurveyStatus.SENT)
    check_transition(1, SurveyStatus.EXPIRED, SurveyStatus.ANSWERED)  # a late answer
    check_transition(1, SurveyStatus.SENT, SurveyStatus.UNREACHABLE)  # WeChat refused the question
    for current, requested in [
        (SurveyStatus.REMINDED, SurveyStatus.UNREACHABLE),  # the first question did reach them
        (SurveyStatus.ANSWERED, SurveyStatus.SENT),
        (SurveyStatus.CANCELLED, SurveyStatus.SENT),
        (SurveyStatus.SENT, SurveyStatus.SCHEDULED),
    ]:
        with pytest.raises(IllegalSurveyTransition):
            check_transition(1, current, requested)


def test_policy_from_the_environment() -> None:
    policy = SurveyPolicy.from_env(
        {"SURVEY_DELAY_MINUTES": "30", "SURVEY_QUIET_HOURS": "", "SURVEY_FREQUENCY_DAYS": "14"}
    )
    assert (policy.delay, policy.quiet_start, policy.frequency) == (
        timedelta(minutes=30),
        None,
        timedelta(days=14),
    )
    assert SurveyPolicy.from_env({}).quiet_start == time(21, 0)
    with pytest.raises(ValueError):
        SurveyPolicy.from_env({"SURVEY_DELAY_MINUTES": "soon"})


@pytest.mark.parametrize(
    ("text", "declines"),
    [
        ("不想评", True),
        ("没空，以后再说", True),
        ("算了吧", True),
        ("师傅不错", False),
        ("不太满意", False),
        ("别烦我", True),  # scored 2, with a remediation case for the annoyance
        ("天天发，烦不烦", True),
        ("能不能别问了", True),
        ("每次保养都推销燃油宝，不加就一直劝，烦不烦", False),  # a complaint about the service
    ],
)
def test_declining_a_survey(text: str, declines: bool) -> None:
    from bot.surveys.rules import declines_survey

    assert declines_survey(text) is declines


@pytest.mark.parametrize(
    ("text", "new"),
    [
        ("等了一下午都没人来", False),
        ("太差了", False),
        ("另外我还要投诉快递", True),
        ("先不说这个，冰箱又坏了", True),
        ("对了，我家热水器也漏水了，能派人看看吗", True),
        ("我家洗衣机也不转了", True),
        ("顺便问下，我上次投诉的宽带修好没", True),
        ("师傅也没打招呼，地板也没擦", False),
        ("还是坏的，能再派人来看看吗", False),
        ("对了，他还把我家地板刮花了", False),  # "对了" going on about the same person
        ("另外师傅还多收了50块", False),
        ("对了，师傅也说我家热水器也要换", True),  # another thing of the customer's
        ("另外快递也还没到", True),  # the parcel, not the courier
    ],
)
def test_a_complaint_in_a_survey_is_an_answer_unless_it_changes_the_subject(text: str, new: bool) -> None:
    from bot.surveys.rules import starts_new_matter

    assert starts_new_matter(text) is new


@pytest.mark.parametrize(
    ("text", "wrong"),
    [
        ("没有按时来", True),  # a "no" to the model: the survey closed as declined
        ("不行", True),  # declined too
        ("师傅没来", True),  # satisfied 0.49 to the model: scored 4
        ("快递放驿站了也没通知我", True),  # neutral to the model (0.90): scored 3
        ("比以前慢多了", True),  # praise to the model (0.78): scored 4
        ("比上次差远了", True),
        ("服务还不如以前", True),
        ("没以前那么仔细", True),
        ("比上次贵得多", True),
        ("差不多，跟以前一样", False),
        ("没有以前的问题了", False),
        ("不卡多了", False),
        ("不满意，没按约定时间来", True),  # satisfied 0.60: scored 4
        ("没效果", True),
        ("没变化", True),
        ("没人联系我", True),
        ("不守时 不专业 不负责", True),
        ("不怎么样", True),
        ("开心得不行", False),
        ("不夸不行，阿姨收拾得很干净", False),
        ("说不上满意，也说不上不满意", False),
        ("谈不上满意不满意", False),
        ("不好不坏", False),
        ("emmm，不好评价", False),
        ("不好意思，刚才在忙", False),
        ("我也说不出好还是不好", False),
        ("师傅没来得及吃饭就来了", False),
        ("跟上次差不多，没什么变化", False),
        ("我没叫过维修", False),  # the wrong customer: a refusal, with its words kept
        ("不用了", False),
        ("不行的话再找你们", False),
    ],
)
def test_a_verdict_on_how_the_visit_went_is_told_from_a_refusal(text: str, wrong: bool) -> None:
    assert says_it_went_wrong(text) is wrong


@pytest.mark.parametrize(
    ("text", "asks"),
    [
        ("为什么要打分", True),
        ("为啥要给你们评价", True),
        ("评价有什么用", True),
        ("必须打分吗", True),
        ("不评价行不行", True),
        ("为什么要等这么久", False),  # a verdict on the service
        ("为什么师傅不来", False),
        ("不评价", False),  # a refusal
    ],
)
def test_a_question_about_the_survey_itself(text: str, asks: bool) -> None:
    assert asks_why_surveyed(text) is asks


@pytest.mark.parametrize(
    ("text", "damaged"),
    [
        ("东西送到了，包装有点破", True),  # praise to the model (0.71): a 4 and a thank-you
        ("里面的杯子碎了一个", True),
        ("送是送到了，就是盒子压扁了", True),
        ("汤洒了一半", True),
        ("外箱有点瘪，不过里面的东西完好无损", True),  # weighed against praise by the model: a 4
        ("快递很快，包装一点都没破", False),
        ("盒子也没破", False),
        ("本来担心蛋糕会压坏，结果完好无损", False),
        ("易碎品包得很仔细", False),
        ("防漏的袋子，汤一点没洒", False),
        ("师傅修好了，没漏水了", False),
    ],
)
def test_damage_on_arrival_is_told_from_goods_unharmed(text: str, damaged: bool) -> None:
    assert says_it_went_wrong(text) is damaged


@pytest.mark.parametrize(
    ("text", "shrug"),
    [
        ("无所谓", True),
        ("随便吧", True),
        ("都行", True),
        ("我无所谓啦", True),
        ("还是一样", False),
        ("随便找个师傅都比他强", False),
        ("一般", False),
    ],
)
def test_a_shrug_is_told_from_a_verdict(text: str, shrug: bool) -> None:
    assert shrugs(text) is shrug


@pytest.mark.parametrize(
    ("text", "nothing"),
    [
        ("没有", True),
        ("没有了，谢谢", True),  # each of these was kept as the customer's comment for the operator
        ("就这样吧", True),
        ("没什么要说的", True),
        ("没有其他的了", True),
        ("没啥说的", True),
        ("好的", True),
        ("没有了谢谢你们", True),
        ("没有，挺好的", False),
        ("下次早点来", False),
        ("没想到这么快", False),
        ("无语", False),
        ("谢谢", False),  # a closing alone is told by only_courtesy
    ],
)
def test_nothing_more_to_say_is_no_comment(text: str, nothing: bool) -> None:
    assert says_nothing_more(text) is nothing


@pytest.mark.parametrize(
    ("text", "mocked"),
    [
        ("满意个鬼", True),
        ("专业个屁，装歪了", True),
        ("准时才怪", True),
        ("好个头", True),
        ("满意", False),
        ("一个鬼故事", False),
        ("师傅个子高", False),
        ("呵呵，真好", True),  # a sneer: it was a 5
        ("呵呵呵 服务真到位", True),
        ("师傅乐呵呵的，服务很好", False),  # a laugh
    ],
)
def test_praise_turned_inside_out(text: str, mocked: bool) -> None:
    assert mocks_praise(text) is mocked


@pytest.mark.parametrize(
    ("text", "reserved"),
    [
        ("满意，就是有点慢", True),
        ("嗯，还算满意，不过师傅来晚了", True),
        ("满意是满意，就是贵", True),
        ("挺满意的但是有点贵", True),
        ("满意", False),  # no reservation
        ("不满意，就是慢", False),
        ("不太满意，但是师傅态度好", False),
        ("师傅挺好的就是来晚了", False),  # no 满意 said: the model weighs it
        ("满意度不高，但是价格便宜", False),
    ],
)
def test_satisfied_with_a_reservation(text: str, reserved: bool) -> None:
    assert satisfied_with_reservation(text) is reserved


@pytest.mark.parametrize(
    ("text", "stop"),
    [
        ("别再发了", True),
        ("取消回访", True),
        ("退订", True),
        ("/opt_out", True),  # a button
        ("TD", True),  # SMS's unsubscribe code: it was scored 4
        ("回复T", True),
        ("天天发烦死了", True),  # scored 1 with a remediation case for the annoyance
        ("Tom", False),
        ("天天发消息问进度，师傅一直不来，烦死了还不解决", False),  # about the service
        ("是真的回访吗", False),
        ("回访太多了", False),
    ],
)
def test_an_opt_out_must_be_asked_for(text: str, stop: bool) -> None:
    assert asks_to_stop(text) is stop


@pytest.mark.parametrize(
    ("text", "doubt"),
    [
        ("你们是不是骗子", True),
        ("是真的回访吗", True),
        ("你们怎么有我的微信", True),
        ("这是什么公司", True),
        ("你们是哪里的客服", True),
        ("骗子商家", False),  # a verdict on the service
        ("说的特辣是骗人的吧", False),
        ("师傅真的很好吗", False),
        ("你是真的人吗", False),  # about the bot: "我是智能客服小助手"
        ("去售后网点，接待的人全程在刷抖音，机器都没拆开看就说人为损坏，这是官方售后吗？", False),
    ],
)
def test_a_customer_asking_who_is_writing(text: str, doubt: bool) -> None:
    assert doubts_the_sender(text) is doubt


@pytest.mark.parametrize(
    ("text", "label"),
    [
        ("not good", ("dissatisfied", 0.0)),
        ("Bad!", ("dissatisfied", 0.0)),
        ("not very professional", ("dissatisfied", 0.0)),
        ("I don't like it", ("dissatisfied", 0.0)),
        ("no good", ("dissatisfied", 0.0)),
        ("The technician was late and rude", ("dissatisfied", 0.0)),
        ("so so", ("neutral", 0.0)),
        ("just ok", ("neutral", 0.0)),
        ("very good", ("satisfied", 1.0)),
        ("Great service!", ("satisfied", 1.0)),
        ("good job", ("satisfied", 1.0)),
        ("ok, good", ("satisfied", 1.0)),
        ("not bad", ("satisfied", 0.0)),
        ("not too bad", ("satisfied", 0.0)),
        ("pretty good", ("satisfied", 0.0)),
        ("ok", None),  # an acknowledgement, as "好的"
        ("good bye", None),
        ("thanks", None),
        ("不好 bad", None),  # Chinese in it: the model's and the Chinese rules' to read
    ],
)
def test_a_verdict_in_english(text: str, label: tuple[str, float] | None) -> None:
    assert english_verdict(text) == label


@pytest.mark.parametrize(
    ("text", "confidence", "brief"),
    [
        ("无语", 0.98, True),
        ("呵呵", 0.98, True),
        ("这是什么", 0.95, False),  # a question
        ("无语", 0.8, False),  # not sure enough
        ("快递员扔门口就走了，打电话也不接", 0.98, False),  # more than a word: the model's to place
    ],
)
def test_displeasure_in_a_word(text: str, confidence: float, brief: bool) -> None:
    assert brief_displeasure("dissatisfied", confidence, text) is brief


@pytest.mark.parametrize(
    ("text", "gone"),
    [
        ("师傅已经修好了", True),
        ("问题解决了", True),
        ("已经没事了，不用派人来了", True),
        ("修好了吗？", False),  # a question
        ("我的问题解决了没", False),
        ("修好了，但是又漏水了", False),  # the problem back
        ("空调修好了，对了，我家冰箱也坏了", False),  # another matter
    ],
)
def test_a_problem_gone_is_told_from_a_question_about_it(text: str, gone: bool) -> None:
    assert says_problem_gone(text) is gone


@pytest.mark.parametrize(
    ("text", "label"),
    [
        ("👎", "dissatisfied"),
        ("👎🏻👎🏻", "dissatisfied"),
        ("[弱]", "dissatisfied"),
        ("👍️", "satisfied"),
        ("👍👎", None),
        ("👎 差", None),
        ("🤔", None),
    ],
)
def test_thumbs_say_one_thing(text: str, label: str | None) -> None:
    assert thumbs_verdict(text) == label


@pytest.mark.parametrize(
    ("text", "wrong"),
    [
        ("这次挺满意，上次的师傅就不行", False),  # the fault is the earlier visit's
        ("这回很准时，之前那个师傅没按时来", False),
        ("上次挺好，这次不行", True),
        ("比上次慢多了", True),  # one clause: about this time
        ("上次的师傅就不行", True),  # nothing said of this time
        ("这次也不行，上次也不行", True),
    ],
)
def test_an_earlier_visit_set_apart_from_this_one_is_not_this_ones_fault(text: str, wrong: bool) -> None:
    assert says_it_went_wrong(text) is wrong


@pytest.mark.parametrize(
    ("text", "fault"),
    [("不脱水", True), ("电视不显示", True), ("按了没反应", True), ("不方便说", False), ("不知道", False)],
)
def test_a_device_fault_is_named_in_so_many_words(text: str, fault: bool) -> None:
    from bot.surveys.rules import names_device_fault

    assert names_device_fault(text) is fault
