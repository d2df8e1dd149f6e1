from pathlib import Path

import pytest

from bot.nlu.satisfaction import SatisfactionModel, emphasise_turn, load_labelled_tsv
from bot.nlu.textclf import TextClassifier, normalise, words

TEXTS = ["很好很满意", "师傅很专业", "太差了", "等了一天没人来", "还行吧", "一般般", "好评", "差评"] * 3
LABELS = [
    "satisfied",
    "satisfied",
    "dissatisfied",
    "dissatisfied",
    "neutral",
    "neutral",
    "satisfied",
    "dissatisfied",
] * 3


def test_a_saved_model_predicts_exactly_as_before(tmp_path: Path) -> None:
    model = TextClassifier(min_df=1).fit(TEXTS, LABELS)
    model.save(tmp_path)
    loaded = TextClassifier.load(tmp_path)
    probe = ["非常满意", "太慢了", "凑合", "😀"]
    for got, expected in zip(loaded.predict_proba(probe), model.predict_proba(probe), strict=True):
        assert got == pytest.approx(expected, abs=1e-6)  # stored as float32
    assert not list(tmp_path.glob("*.pkl"))  # nothing that runs code on load


@pytest.mark.parametrize("sublinear", [True, False])
def test_features_are_scikit_learns_tf_idf_number_for_number(sublinear: bool) -> None:
    """The classifier weighs n-grams itself (scikit-learn 1.1's transform costs time in proportion
    to the vocabulary on every call); what it computes must be what TfidfVectorizer computes."""
    from sklearn.feature_extraction.text import TfidfVectorizer

    model = TextClassifier(min_df=1).fit(TEXTS, LABELS)
    probe = ["非常满意！！！", "太慢了，等了3天", "凑合", "😀", "", "好评好评好评"]
    for vectorizer in (model._char, model._word):
        assert isinstance(vectorizer, TfidfVectorizer)
        vectorizer.sublinear_tf = vectorizer._tfidf.sublinear_tf = sublinear
        ours = model._weighted(vectorizer, probe).toarray()
        theirs = vectorizer.transform(probe).toarray()
        assert ours.shape == theirs.shape and ours.any()
        assert ours == pytest.approx(theirs, abs=1e-12)


def test_the_turn_is_emphasised() -> None:
    assert emphasise_turn("味道不错，就是送得太慢") == "味道不错，就是送得太慢 ⟪送得太慢⟫ ⟦就是送得太慢⟧"
    assert emphasise_turn("等了一个小时，下次不点了") == "等了一个小时，下次不点了 ⟦下次不点了⟧"
    assert emphasise_turn("很好") == "很好"


def test_closing_clauses_are_left_out_beside_a_verdict() -> None:
    """ "挺好的，再见" had "再见" counted twice and was heard as neutral; "满意，拜拜" as displeasure.
    "修好了，谢谢，拜拜" was still neutral, two closings outweighing "修好了": beside something said,
    they are left out altogether."""
    assert emphasise_turn("挺好的，再见") == "挺好的 ⟦挺好的⟧"
    assert emphasise_turn("修好了，谢谢，拜拜👋") == "修好了 ⟦修好了⟧"
    assert emphasise_turn("谢谢师傅，拜拜") == "谢谢师傅 ⟦谢谢师傅⟧"  # thanks to someone is a verdict
    assert emphasise_turn("谢谢，再见") == "谢谢，再见 ⟦再见⟧"  # nothing else: the closings are the answer
    assert emphasise_turn("味道不错，就是太慢了，拜拜") == "味道不错，就是太慢了 ⟪太慢了⟫ ⟦就是太慢了⟧"


def test_an_explicit_score_decides_unless_the_words_disagree(tmp_path: Path) -> None:
    model = SatisfactionModel.train(TEXTS, LABELS)
    assert model.judge("5分", 5, "5分")[0] == "satisfied"
    assert model.judge("2", 2, "2")[0] == "dissatisfied"
    assert model.judge("3分吧", 3, "3分")[0] == "neutral"
    assert model.judge("/affirm") == ("neutral", 1.0)
    assert model.judge("", None) == ("neutral", 1.0)


def test_labelled_files_are_checked(tmp_path: Path) -> None:
    good = tmp_path / "good.tsv"
    good.write_text("satisfied\t好\nneutral\t嗯\n", encoding="utf-8")
    assert load_labelled_tsv(good) == (["好", "嗯"], ["satisfied", "neutral"])
    bad = tmp_path / "bad.tsv"
    bad.write_text("happy\t好\n", encoding="utf-8")
    try:
        load_labelled_tsv(bad)
    except ValueError as exc:
        assert "bad.tsv:1" in str(exc)
    else:
        raise AssertionError("an unknown label must be refused")


def test_a_wechat_face_is_one_feature_sharing_nothing_with_words() -> None:
    """ "[强]" written out lent "强" (and the brackets) to "强烈要求退款" and to every other face."""
    strong, weak = normalise("[强]"), normalise("[弱]")
    assert len(strong) == len(weak) == 1 and strong != weak
    assert normalise("师傅很好[强][强]") == "师傅很好" + strong * 2
    assert normalise("[ok]") == normalise("[OK]") != normalise("ok")
    assert "强" not in words("[强]") and "[" not in "".join(words("[强]"))
    assert normalise("订单[JD2026]") == "订单[jd#]"  # a bracketed number is no face


def test_a_sound_before_the_answer_is_left_out() -> None:
    """ "嗯嗯满意" was heard as neutral and scored 3 (一般): the training data's bare "嗯，知道了" and
    "嗯嗯收到" taught the model that "嗯嗯" means nothing either way, and it outweighed "满意"."""
    assert emphasise_turn("嗯嗯满意") == "满意"
    assert emphasise_turn("嗯嗯，挺好") == "挺好"
    assert emphasise_turn("emmm，不好评价") == "不好评价"
    assert emphasise_turn("嗯嗯") == "嗯嗯"  # nothing else: the sound is the answer
    assert emphasise_turn("恩人") == "恩人"


def test_six_six_six_is_praise_not_a_number() -> None:
    """ "666" was masked as a number (as "12" is), and the survey scored it 3 (一般)."""
    assert normalise("666") == normalise("6666") != normalise("12")
    assert normalise("13566667777") == normalise("13512345678")  # in a phone number, still a number
