"""WeChat's built-in faces (小黄脸) as the customer sees them.

A face picked from WeChat's panel reaches an official account as a code in the text: a thumbs-up
arrives as ``/:strong``, a smile as ``/::)``, an angry face as ``/::@``. The newer faces already
arrive as their name in brackets (``[捂脸]``, ``[旺柴]``). The connector turns the old codes into the
same bracket form, the one WeChat itself shows when a message is copied, so the NLU, the case
description and the agents' console all see "[强]" rather than a cryptic code, and "[强]" and "[弱]" can
be told apart as an answer to a survey.
"""

from __future__ import annotations

import re

# Code → the face's Chinese name in WeChat's panel, in the panel's order.
FACES: dict[str, str] = {
    "/::)": "微笑",
    "/::~": "撇嘴",
    "/::B": "色",
    "/::|": "发呆",
    "/:8-)": "得意",
    "/::<": "流泪",
    "/::$": "害羞",
    "/::X": "闭嘴",
    "/::Z": "睡",
    "/::'(": "大哭",
    "/::’(": "大哭",  # some clients send a typographic apostrophe
    "/::-|": "尴尬",
    "/::@": "发怒",
    "/::P": "调皮",
    "/::D": "呲牙",
    "/::O": "惊讶",
    "/::(": "难过",
    "/::+": "酷",
    "/:--b": "冷汗",
    "/::Q": "抓狂",
    "/::T": "吐",
    "/:,@P": "偷笑",
    "/:,@-D": "愉快",
    "/::d": "白眼",
    "/:,@o": "傲慢",
    "/::g": "饥饿",
    "/:|-)": "困",
    "/::!": "惊恐",
    "/::L": "流汗",
    "/::>": "憨笑",
    "/::,@": "悠闲",
    "/:,@f": "奋斗",
    "/::-S": "咒骂",
    "/:?": "疑问",
    "/:,@x": "嘘",
    "/:,@@": "晕",
    "/::8": "疯了",
    "/:,@!": "衰",
    "/:!!!": "骷髅",
    "/:xx": "敲打",
    "/:bye": "再见",
    "/:wipe": "擦汗",
    "/:dig": "抠鼻",
    "/:handclap": "鼓掌",
    "/:&-(": "糗大了",
    "/:B-)": "坏笑",
    "/:<@": "左哼哼",
    "/:@>": "右哼哼",
    "/::-O": "哈欠",
    "/:>-|": "鄙视",
    "/:P-(": "委屈",
    "/::'|": "快哭了",
    "/::’|": "快哭了",
    "/:X-)": "阴险",
    "/::*": "亲亲",
    "/:@x": "吓",
    "/:8*": "可怜",
    "/:pd": "菜刀",
    "/:<W>": "西瓜",
    "/:beer": "啤酒",
    "/:basketb": "篮球",
    "/:oo": "乒乓",
    "/:coffee": "咖啡",
    "/:eat": "饭",
    "/:pig": "猪头",
    "/:rose": "玫瑰",
    "/:fade": "凋谢",
    "/:showlove": "嘴唇",
    "/:heart": "爱心",
    "/:break": "心碎",
    "/:cake": "蛋糕",
    "/:li": "闪电",
    "/:bome": "炸弹",
    "/:kn": "刀",
    "/:footb": "足球",
    "/:ladybug": "瓢虫",
    "/:shit": "便便",
    "/:moon": "月亮",
    "/:sun": "太阳",
    "/:gift": "礼物",
    "/:hug": "拥抱",
    "/:strong": "强",
    "/:weak": "弱",
    "/:share": "握手",
    "/:v": "胜利",
    "/:@)": "抱拳",
    "/:jj": "勾引",
    "/:@@": "拳头",
    "/:bad": "差劲",
    "/:lvu": "爱你",
    "/:no": "NO",
    "/:ok": "OK",
    "/:love": "爱情",
    "/:<L>": "飞吻",
    "/:jump": "跳跳",
    "/:shake": "发抖",
    "/:<O>": "怄火",
    "/:circle": "转圈",
    "/:kotow": "磕头",
    "/:turn": "回头",
    "/:skip": "跳绳",
    "/:oY": "投降",
    "/:#-0": "激动",
    "/:hiphot": "街舞",
    "/:kiss": "献吻",
    "/:<&": "左太极",
    "/:&>": "右太极",
}

# Longest code first, so "/::-O" is not read as "/::-" + "O" and "/:,@-D" not as "/:,@" + "-D".
_CODE = re.compile("|".join(re.escape(code) for code in sorted(FACES, key=len, reverse=True)))


def readable(text: str) -> str:
    """The text with every face code replaced by its bracketed name: "好的/:strong" → "好的[强]"."""
    if "/:" not in text:
        return text
    return _CODE.sub(lambda match: f"[{FACES[match.group(0)]}]", text)


__all__ = ["FACES", "readable"]
