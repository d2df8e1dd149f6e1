import pytest

from bot.nlu.patterns import (
    find_category_mention,
    find_order_ids,
    find_phones,
    find_rating,
    mask_phone,
    normalise_order_id,
    normalise_phone,
    withholds_score,
)


@pytest.mark.parametrize(
    ("text", "phone"),
    [
        ("我手机13812345678", "13812345678"),
        ("138 1234 5678 找王先生", "13812345678"),
        ("电话：138-1234-5678", "13812345678"),
        ("+86 139-1234-5678", "13912345678"),
        ("电hua17377201846", "17377201846"),
        ("１３８１２３４５６７８", "13812345678"),
    ],
)
def test_phones_are_found_however_typed(text: str, phone: str) -> None:
    assert [s.value for s in find_phones(text)] == [phone]


@pytest.mark.parametrize("text", ["12812345678", "1381234567", "138123456789", "订单JD13812345678"])
def test_things_that_are_not_mobile_numbers(text: str) -> None:
    assert find_phones(text) == []


def test_phone_spans_point_into_the_original_text() -> None:
    text = "电话：138-1234-5678，谢谢"
    (span,) = find_phones(text)
    assert text[span.start : span.end] == "138-1234-5678"


def test_phone_normalisation_and_masking() -> None:
    assert normalise_phone(" 138 1234 5678 ") == "13812345678"
    assert normalise_phone("1381234567") is None
    assert normalise_phone("13812345678 13912345678") is None
    assert mask_phone("13812345678") == "138****5678"


@pytest.mark.parametrize(
    ("text", "phone"),
    [
        ("那用座机行吗 021-62345678", "021-62345678"),
        ("(0755) 8888 1234", "0755-88881234"),
        ("座机02162345678", "021-62345678"),
        ("010 6234 5678 找李师傅", "010-62345678"),
        ("电话：0571-88881234 转 8008", "0571-88881234"),
    ],
)
def test_landlines_are_phones_not_order_numbers(text: str, phone: str) -> None:
    """ "那用座机行吗 021-62345678", asked for a phone, replaced the customer's "没有" order number
    with the landline and asked for a mobile again without a word."""
    assert [s.value for s in find_phones(text)] == [phone]
    assert find_order_ids(text) == []


def test_a_landline_without_a_separator_or_a_phone_word_is_left_to_be_an_order_number() -> None:
    assert find_phones("02162345678") == [] and [s.value for s in find_order_ids("02162345678")] == [
        "02162345678"
    ]
    assert find_phones("订单号 021-62345678") == []  # the customer said what it is
    assert find_phones("021-6234567") == []  # Shanghai's numbers have 8 digits
    # Asked for a phone, bare digits are one.
    assert normalise_phone("02162345678") == normalise_phone("021 6234 5678") == "021-62345678"
    assert mask_phone("021-62345678") == "021-****5678"


@pytest.mark.parametrize(
    ("text", "order"),
    [
        ("订单号 JD2026112012345", "JD2026112012345"),
        ("单号SF1402847563921", "SF1402847563921"),
        ("2026112058473621", "2026112058473621"),
        ("订单12345678", "12345678"),
        ("order no. tb20261118009 please", "TB20261118009"),
        ("订单号20261120-0007", "20261120-0007"),  # called an order, it is one
    ],
)
def test_order_numbers(text: str, order: str) -> None:
    assert [s.value for s in find_order_ids(text)] == [order]


@pytest.mark.parametrize(
    "text", ["13812345678", "C20261120-0007", "20261120-0007", "花了200块", "12345678", "等了3天"]
)
def test_not_order_numbers(text: str) -> None:
    assert find_order_ids(text) == []


def test_order_normalisation() -> None:
    assert normalise_order_id("jd2026112012345") == "JD2026112012345"
    assert normalise_order_id("好的") is None
    assert normalise_order_id("123") is None


@pytest.mark.parametrize(
    ("typed", "order"),
    [
        ("订单号是 TB 2026 1130 5566 7788", "TB2026113055667788"),  # was "订单号格式不太对"
        ("单号 SF 1409 9283 7615", "SF140992837615"),
        ("我的订单号是 6688 1234 5566 78。", "66881234556678"),
    ],
)
def test_an_order_number_typed_in_groups_is_one_number(typed: str, order: str) -> None:
    assert normalise_order_id(typed) == order


@pytest.mark.parametrize("typed", ["订单号是 我不知道", "2026 11", "订单号是 3 天前的"])
def test_a_label_alone_makes_no_order_number(typed: str) -> None:
    assert normalise_order_id(typed) is None


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("5分", 5),
        ("五星", 5),
        ("打四分", 4),
        ("满分", 5),
        ("3", 3),
        ("4吧", 4),
        ("三吧，也就那样", 3),
        ("给两星吧", 2),
        ("⭐⭐⭐", 3),
        ("⭐️⭐️⭐️⭐️⭐️好评", 5),
        ("5⭐", 5),
        ("4/5", 4),
        ("8/10", 4),  # displeasure to the model, and a 1
        ("9/10分", 5),
        ("85/100", 4),
        ("0/10", 1),
        ("我打5", 5),
        ("评分：2", 2),
        ("就打1吧，没法再低了", 1),
        ("💯", 5),
        ("给100分", 5),
        ("零分", 1),
        ("满分5分我打4分", 4),
        ("5分制的话3分", 3),
        ("两分不能再多了", 2),
        ("仨星", 3),
    ],
)
def test_scores_however_written(text: str, value: int) -> None:
    found = find_rating(text)
    assert found is not None and found.value == value


@pytest.mark.parametrize(
    "text",
    [
        "等了5分钟",
        "一星期了还没到",
        "3天了",
        "十分满意",
        "一分钱一分货",
        "1+1等于几",
        "3.14",
        "五点到",
        "三分糖",
        "多给两根葱",
        "1楼漏水",
        "发给4S店",
        "保修期内一分没花",
        "一般般",
        "3/10号师傅来的",  # a date
        "2026/12/5",
        "12/10",
    ],
)
def test_not_scores(text: str) -> None:
    assert find_rating(text) is None


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("8分", 4),  # scored 3 from the words' tone
        ("打个9分吧", 5),  # 3
        ("七分", 4),
        ("六十分", 3),
        ("给你们90分", 5),
        ("满分10分我打6分", 3),
        ("满分10分我打5分", 3),  # five out of ten, not five stars
        ("满分100分给80分", 4),
        ("百分制85分", 4),
        ("满分十分给九分", 5),
    ],
)
def test_a_score_out_of_ten_or_a_hundred_is_put_on_five(text: str, value: int) -> None:
    found = find_rating(text)
    assert found is not None and found.value == value


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("3.5分", 4),  # no score: scored 5 from the words' tone
        ("给4.5分吧，挺好的", 5),
        ("4.5星", 5),
        ("4到5分之间", 5),  # 3
        ("三到四星", 4),
        ("满意度100%", 5),  # 2
        ("满意度80%", 4),
        ("100%满意", 5),
        ("百分百满意", 5),
    ],
)
def test_a_score_between_two_or_as_a_percentage_is_put_on_five(text: str, value: int) -> None:
    found = find_rating(text)
    assert found is not None and found.value == value


@pytest.mark.parametrize(
    "text",
    [
        "下午3点5分来的",  # a time: it was a 5
        "3点10分才到",  # a 5 too
        "结果1小时20分才到",  # a 1
        "扣了我20%的手续费",
        "电量只剩20%",
        "不会给4.5分的",
    ],
)
def test_times_and_other_percentages_are_no_score(text: str) -> None:
    assert find_rating(text) is None


@pytest.mark.parametrize("text", ["十分满意", "等了8分钟", "8分钱", "扣了20分", "六七分吧"])
def test_words_like_a_score_out_of_ten_are_not_one(text: str) -> None:
    assert find_rating(text) is None


@pytest.mark.parametrize(
    "text",
    [
        "不会给五星的",  # thanked as a 5 in a survey
        "不可能给你们满分",
        "不值五星",
        "师傅走之前非要我打5分",  # the technician's score, not the customer's
        "安装师傅一直催我给五星好评",
        "师傅临走逼着我点了满分",
        "本来想给五星的，结果又坏了",
        "还想要五星？做梦",
        "等修好了再给五星",
        "五星是不可能给的",
        "满分？别想了",
        "五星谈不上",
    ],
)
def test_a_score_named_but_not_given_is_no_score(text: str) -> None:
    assert find_rating(text) is None and withholds_score(text)


@pytest.mark.parametrize("text", ["五星", "不会给五星，顶多三星", "装得挺好", "等了5分钟"])
def test_a_score_given_or_none_named_withholds_nothing(text: str) -> None:
    assert not withholds_score(text)


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("不会给五星，顶多三星", 3),
        ("一星都不想给", 1),
        ("我要给五星", 5),
        ("我想给5分", 5),
        ("给5分不为过", 5),
        ("让我打分我给5分", 5),
        ("不错5分", 5),
        ("必须要给五星", 5),
        ("五星都不够", 5),
    ],
)
def test_a_score_given_beside_words_that_refuse_is_still_given(text: str, value: int) -> None:
    found = find_rating(text)
    assert found is not None and found.value == value


@pytest.mark.parametrize(
    ("text", "category"),
    [
        ("是质量问题", "product_quality"),
        ("快递的问题", "delivery"),
        ("收费不对", "billing"),
        ("属于安装维修", "installation_repair"),
        ("其他", "other"),
        ("随便", None),
        ("快递收费", None),
    ],
)
def test_categories_named_outright(text: str, category: str | None) -> None:
    assert find_category_mention(text) == category
