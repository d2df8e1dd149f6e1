import pytest

from bot.cases.intake import (
    MAX_DESCRIPTION,
    asks_for_arrival_time,
    asks_for_case_number,
    asks_for_time,
    asks_to_reschedule,
    asks_when_someone_comes,
    declines_phone,
    describes_beside_numbers,
    is_cancellation,
    is_plain_answer,
    is_substantive_description,
    is_urging,
    names_own_category,
    no_longer_needed,
    only_cancels,
    only_chases,
    prefers_wechat,
    rewritten_description,
    safety_terms,
    says_more_than_wait,
    says_no_order,
    takes_extra_money,
    trim_description,
    unsure_of_category,
    withdraws_complaint,
)
from bot.cases.rules import SlaPolicy


@pytest.mark.parametrize(
    "text",
    [
        "我要投诉",
        "投诉",
        "我想反映个问题",
        "在吗",
        "漏水",
        # a demand, but for what? "能不能给个说法" became a case's whole description
        "能不能给个说法",
        "这事你们总得给我个交代吧",
        "你们到底管不管啊",
        "这个事情怎么处理？？",
        "我要给你们差评",  # a threat that names nothing: it became a case's whole description
        "我要投诉你们公司",
        "你好，我想反映个问题",  # a greeting first: it got the apology and the category question
        "在吗？我要投诉",
        # a verdict on the company that names nothing: "这个我帮不上忙" once, an empty case since
        "你们公司太坑了",
        "你们这什么破服务",
        "太让人失望了",
    ],
)
def test_empty_complaints_are_not_descriptions(text: str) -> None:
    assert not is_substantive_description(text)


@pytest.mark.parametrize(
    "text",
    [
        "空调坏了",
        "快递三天还没到",
        "师傅态度太差了我要投诉",
        "多扣了我80块 给个说法",
        "空调的事怎么处理",
        "给差评，快递三天没到",
        "我要投诉你们的安装师傅",
        "收费太坑了",
        "你们坑了我500块",
        "太失望了，冰箱用了一周就坏了",
    ],
)
def test_real_descriptions(text: str) -> None:
    assert is_substantive_description(text)


@pytest.mark.parametrize(
    ("text", "cancels"),
    [("算了，不投诉了", True), ("取消投诉", True), ("/deny", True), ("不对", False), ("不是这个", False)],
)
def test_cancelling_is_told_apart_from_disagreeing(text: str, cancels: bool) -> None:
    assert is_cancellation(text) is cancels


@pytest.mark.parametrize(
    ("text", "none"),
    [
        ("没有", True),
        ("没有订单号", True),
        ("忘了", True),
        ("订单号找不到了", True),
        ("我不记得订单号", True),
        ("JD2026112012345", False),
        ("有的", False),
        ("订单号是JD2026112012345", False),
    ],
)
def test_no_order_answers(text: str, none: bool) -> None:
    assert says_no_order(text) is none


@pytest.mark.parametrize(
    ("text", "looking"),
    [
        ("等一下我找找", True),
        ("订单号我查一下", True),
        ("稍等", True),
        ("等了三天还没到", False),
        ("JD123 我找找", False),
        ("嗯，我想一下", True),
    ],
)
def test_looking_for_the_number(text: str, looking: bool) -> None:
    assert asks_for_time(text) is looking


@pytest.mark.parametrize(
    ("text", "more"),
    [
        ("等等，墙上还发霉了，这个也写上", True),
        ("还有，等等，快递员还骂人", True),
        ("稍等，我翻翻聊天记录", False),
        ("等一下，我在手机上找一下订单号", False),
        ("嗯，我想一下", False),
    ],
)
def test_a_wait_word_with_more_about_the_problem(text: str, more: bool) -> None:
    assert says_more_than_wait(text) is more


@pytest.mark.parametrize(
    ("text", "declines"),
    [
        ("我不想留电话", True),
        ("为什么一定要手机号", True),
        ("电话就不留了", True),
        ("怕被骚扰", True),
        ("还是不留了", True),  # after being told why: it got "这个号码好像不太对"
        ("那我还是不给了", True),
        ("还是没有", True),
        # added to the complaint's description, and the phone question came again
        ("为什么要我电话，会不会泄露", True),
        ("为什么要我的手机号", True),
        ("要电话干嘛", True),
        ("不会拿去卖吧", True),
        ("会不会修不好", False),
        ("这个型号还会卖吗", False),
        ("不对，手机号是13912345678", False),
        ("电话打不通", False),
        ("手机屏幕碎了", False),
    ],
)
def test_a_worry_about_giving_the_phone(text: str, declines: bool) -> None:
    assert declines_phone(text) is declines


@pytest.mark.parametrize(
    ("text", "unsure"),
    [
        ("不知道怎么选", True),
        ("随便", True),
        ("我也不清楚", True),
        ("不知道为什么空调坏了", False),
        ("其他", False),
        ("没有", True),  # "none of these": it cancelled the whole complaint
        ("都不是吧", True),
        ("好像哪个都不对", True),
        ("以上都不是", True),
        ("没有收到货", False),
        ("没有人来修", False),
    ],
)
def test_not_knowing_the_category(text: str, unsure: bool) -> None:
    assert unsure_of_category(text) is unsure


@pytest.mark.parametrize(
    ("text", "asks"),
    [
        ("我的投诉编号是多少来着", True),  # got "这个我帮不上忙"
        ("编号忘了", True),
        ("工单号发我一下", True),
        ("我的订单号是多少", False),  # an order: not ours to know
        ("查一下我的投诉", False),  # a status question: the model's
    ],
)
def test_asking_for_the_case_number(text: str, asks: bool) -> None:
    assert asks_for_case_number(text) is asks


@pytest.mark.parametrize(
    ("text", "own"),
    [
        ("网络问题", True),  # asked again and again: the menu has no such kind
        ("是信号方面的", True),
        ("宽带问题吧", True),
        ("电路故障", True),
        ("什么问题", False),
        ("没问题", False),
        ("有问题", False),
        ("这个问题", False),
        ("我的冰箱不制冷了这是什么问题", False),
        ("没有订单号", False),
    ],
)
def test_the_customers_own_kind_of_problem(text: str, own: bool) -> None:
    assert names_own_category(text) is own


def test_safety_terms_for_immediate_advice(policy: SlaPolicy) -> None:
    assert safety_terms(policy, "厨房一股煤气味") == ["煤气味"]
    assert safety_terms(policy, "没有漏电，就是不制热") == []


def test_long_descriptions_are_kept_up_to_the_limit() -> None:
    assert len(trim_description("啊" * 10_000)) == MAX_DESCRIPTION
    assert trim_description("  空调坏了  ") == "空调坏了"


@pytest.mark.parametrize(
    ("text", "description"),
    [
        ("你好，我家空调不制冷了", "我家空调不制冷了"),
        ("您好！在吗？快递三天了还没到", "快递三天了还没到"),
        ("Hi, 师傅没按约定时间上门", "师傅没按约定时间上门"),
        ("对了，我家热水器也漏水了", "我家热水器也漏水了"),
        ("客服态度很差", "客服态度很差"),  # "客服" here is the complaint, not a greeting
        ("你好几次都没修好", "你好几次都没修好"),
        ("你好，在吗", "你好，在吗"),  # nothing would be left
    ],
)
def test_the_opening_greeting_is_not_part_of_the_description(text: str, description: str) -> None:
    assert trim_description(text) == description


@pytest.mark.parametrize(
    ("text", "urging"),
    [
        ("能不能快点处理啊", True),
        ("催一下我的投诉", True),
        ("怎么还没人联系我", True),
        ("到底什么时候给我解决", True),
        ("都等了三天了", True),
        ("怎么没人理我", True),
        ("你们都不回消息的吗", True),
        ("我的投诉怎么样了", False),
        ("查一下C20261120-0007", False),
        ("进度如何", False),
    ],
)
def test_chasing_is_told_apart_from_asking(text: str, urging: bool) -> None:
    assert is_urging(text) is urging


@pytest.mark.parametrize(
    ("text", "asks"),
    [
        ("什么时候派人来", True),
        ("师傅啥时候上门", True),
        ("啥时候有人来", True),
        ("几点能到", True),
        ("钱什么时候退", True),
        ("请问师傅大概什么时候能上门啊？", True),
        ("空调坏了，什么时候派人来修", False),  # a problem to file
        ("你们几点下班", False),  # opening hours
        ("什么时候开始营业", False),
        ("我的投诉怎么样了", False),
    ],
)
def test_when_help_comes_is_a_question_about_the_case(text: str, asks: bool) -> None:
    assert asks_when_someone_comes(text) is asks


@pytest.mark.parametrize(
    ("text", "arrival"),
    [
        ("师傅什么时候到", True),
        ("请问师傅大概什么时候能上门啊", True),
        ("快递几点能送到", True),
        ("维修的人啥时候来", True),
        ("什么时候上门", True),
        ("我的投诉什么时候处理", False),  # about a case
        ("钱什么时候退", False),
        ("退款什么时候到账", False),
        ("你们几点下班", False),
    ],
)
def test_a_question_about_the_visit_is_told_from_one_about_a_case(text: str, arrival: bool) -> None:
    assert asks_for_arrival_time(text) is arrival


@pytest.mark.parametrize(
    ("text", "moves"),
    [
        ("师傅能不能改到明天下午来", True),
        ("我要改预约时间", True),
        ("能推迟到周六吗", True),
        ("时间能改吗", True),
        ("能不能周六上门", True),
        ("我明天不在家", True),
        ("明天上午家里没人", True),
        ("周六我没空", True),
        ("昨天我不在家，快递就放门口丢了", False),  # a complaint about the past
        ("建议师傅下次带鞋套", False),  # a suggestion
        ("空调明天下午装好的，今天就坏了", False),  # a complaint with a day in it
        ("希望下次早点来", False),
    ],
)
def test_a_visit_to_move_is_told_from_a_suggestion(text: str, moves: bool) -> None:
    assert asks_to_reschedule(text) is moves


@pytest.mark.parametrize(
    ("text", "plain"),
    [
        ("嗯嗯好的", True),
        ("不用了，谢谢！", True),
        ("没有了", True),
        ("OK", True),
        ("👍", True),
        ("没啥说的", True),  # "nothing more to say" after a survey
        ("暂时没有其他问题了", True),
        ("就这样吧，谢谢你", True),
        ("有问题", False),
        ("账单不对", False),
        ("取消订单", False),
        ("不，我要投诉", False),
        ("好的，帮我查一下", False),
    ],
)
def test_a_bare_yes_or_no_is_told_apart_from_one_with_something_in_it(text: str, plain: bool) -> None:
    assert is_plain_answer(text) is plain


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("问题描述改一下：电视屏幕有两条竖线，开机还有异响", "电视屏幕有两条竖线，开机还有异响"),
        ("不对，问题是电视屏幕有两条竖线", "电视屏幕有两条竖线"),
        ("描述改成：冰箱冷藏室不制冷", "冰箱冷藏室不制冷"),
        ("把问题改成 洗衣机脱水时响声很大", "洗衣机脱水时响声很大"),
        ("重新描述一下：师傅上门把墙打坏了", "师傅上门把墙打坏了"),
        ("问题是空调不制冷", None),  # how many first messages begin
        ("情况是这样的，师傅迟到了", None),
        ("对了，师傅还把地板刮花了", None),  # more detail, added
        ("不对，手机号是13812345678", None),  # another field
        ("问题描述改一下", None),  # the new words are still to come
    ],
)
def test_a_description_replaced_rather_than_added_to(text: str, expected: str | None) -> None:
    assert rewritten_description(text) == expected


@pytest.mark.parametrize(
    ("text", "withdraws"),
    [
        ("我想撤销刚才的投诉，问题已经解决了", True),
        ("那个投诉不用处理了，师傅已经修好了", True),
        ("问题解决了，投诉可以关了", True),
        ("取消我的投诉", True),
        ("撤销 C20261205-0007", True),
        ("我要投诉", False),
        ("算了，不投诉了", False),  # inside an intake: cancels the one being described
        ("我要投诉你们取消订单不退款", False),
        ("投诉的事怎么样了", False),
    ],
)
def test_a_filed_complaint_taken_back(text: str, withdraws: bool) -> None:
    assert withdraws_complaint(text) is withdraws


@pytest.mark.parametrize(
    ("text", "gone"),
    [
        ("已经没事了", True),
        ("不用派人来了", True),
        ("不需要再上门了，自己弄好了", True),
        ("没事了没事了", True),
        ("不用修了，还是不制冷，我直接退货", False),  # still broken
        ("师傅不来了？", False),
        ("没事了吧？", True),  # a question, but the caller also checks for questions
    ],
)
def test_help_no_longer_needed(text: str, gone: bool) -> None:
    assert no_longer_needed(text) is gone


@pytest.mark.parametrize(
    ("text", "prefers"),
    [
        ("不留电话了，有事微信联系我", True),
        ("在这里说就行", True),
        ("微信上找我吧", True),
        ("你们微信上联系我不行吗", True),
        ("微信支付扣了两次钱", False),
        ("13812345678 微信联系也行", False),  # a number given: take it
    ],
)
def test_preferring_to_be_reached_in_the_chat(text: str, prefers: bool) -> None:
    assert prefers_wechat(text) is prefers


@pytest.mark.parametrize(
    ("rest", "describes"),
    [
        (" 电视买回来就黑屏 ", True),  # "订单号JD… 电视买回来就黑屏 电话138…" without its numbers
        ("什么时候发货", True),
        ("我的换了，新", False),  # "我的手机号换了，新号码139…": a correction
        ("发错了，应该", False),  # "订单号发错了，应该是JD…"
        ("这是我的", False),
        ("联系我JD2026112012345", False),  # a number the NLU gave no place in the text
        ("就这个号 ", False),  # "手机号就是这个号 137…": it was added to the description
        ("打这个", False),
        ("这个号码不用了，空调漏水", True),
    ],
)
def test_a_problem_is_told_from_the_labels_around_a_number(rest: str, describes: bool) -> None:
    assert describes_beside_numbers(rest) is describes


@pytest.mark.parametrize(
    ("text", "bare"),
    [
        ("我想催一下", True),
        ("能不能快点", True),
        ("可以加急吗", True),
        ("你们能不能快点处理一下啊！！", True),
        ("催单", True),
        ("快点发货", False),  # says what is awaited: a complaint
        ("等了三天", False),
        ("还没到", False),
        ("催什么催", False),
    ],
)
def test_a_bare_chase_is_told_from_one_that_says_what_is_awaited(text: str, bare: bool) -> None:
    assert only_chases(text) is bare


@pytest.mark.parametrize(
    ("text", "only"),
    [
        ("我要取消我的订单", True),  # was filed as a complaint
        ("能不能把订单取消了", True),  # was thanked as a suggestion
        ("明天的安装预约帮我取消一下", True),
        ("订单不要了，取消吧", True),
        ("宽带帮我退掉", True),
        ("我要取消订单，你们发货太慢了", False),  # says what went wrong
        ("订单取消了怎么还扣钱", False),
        ("你们为什么取消我的订单", False),
        ("取消我的投诉", False),  # a withdrawal
        ("算了不投诉了", False),
        ("安装师傅不要了", False),
        ("不要了", False),
    ],
)
def test_a_request_to_call_off_an_order_is_told_from_a_complaint(text: str, only: bool) -> None:
    assert only_cancels(text) is only


@pytest.mark.parametrize(
    ("text", "names"),
    [
        ("快点发货", True),
        ("能不能快点送到", True),
        ("赶紧派人来修", True),
        ("催一下我的退款", True),
        ("怎么还不发货", True),
        ("我想催一下", False),  # bare: "您目前没有处理中的投诉"
        ("尽快处理", False),
        ("催一下我的投诉", False),  # a complaint the customer believes open
        ("什么时候发货", False),  # a question, not a chase
        ("送货很快，师傅也专业", False),
    ],
)
def test_a_chase_names_what_is_awaited(text: str, names: bool) -> None:
    from bot.cases.intake import chases_what_is_awaited

    assert chases_what_is_awaited(text) is names


@pytest.mark.parametrize(
    ("text", "category"),
    [
        ("赶紧给我发货", "delivery"),  # product quality to the category model
        ("催一下我的退款", "billing"),
        ("快点派人上门", "installation_repair"),
        ("快点给我换货", None),  # goods or service: the customer is asked
        ("赶紧发货，师傅也没来", None),  # two things
        ("快递员态度太差，赶紧给我送过来", None),  # more than the chase: the model reads it
        ("快点发货！！！", "delivery"),
        ("快递三天还没到", None),  # no chase of a thing named: left to the model
    ],
)
def test_what_is_chased_says_where_it_belongs(text: str, category: str | None) -> None:
    from bot.cases.intake import category_awaited

    assert category_awaited(text) == category


@pytest.mark.parametrize(
    ("text", "asks"),
    [
        ("我的投诉编号是多少", True),
        ("我没收到编号", True),
        ("没有收到投诉编号", True),
        ("订单编号是多少", False),  # the order's, not the case's
        ("快递单号没收到", False),
    ],
)
def test_a_question_about_the_case_number_is_told_from_one_about_the_order(text: str, asks: bool) -> None:
    from bot.cases.intake import asks_for_case_number

    assert asks_for_case_number(text) is asks


@pytest.mark.parametrize(
    ("text", "takes"),
    [
        ("装好了，但是师傅要了50块辛苦费", True),  # a 4 and a thank-you in a survey
        ("师傅问我要红包", True),
        ("多收了我100块", True),
        ("要了我50块钱的茶水费", True),
        ("额外收了200元", True),
        ("师傅没要辛苦费", False),
        ("师傅人很好，一分钱小费都没要", False),
        ("不用给红包", False),
        ("我给了师傅一个红包", False),  # given, not asked for
        ("没有多收100块", False),
        ("修好了，收费200块", False),  # the bill
    ],
)
def test_money_beyond_the_bill_is_told_from_the_bill(text: str, takes: bool) -> None:
    assert takes_extra_money(text) is takes
