"""The console's case pages: every open case by the deadline it owes, one case with its forms, and
writing to its customer. Split from ``views`` (whose request helpers and middleware these share);
``views.blueprint`` registers them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sanic import Request
from sanic.response import HTTPResponse

from bot.api.console.delivery import reachable
from bot.api.console.transcript import local
from bot.api.console.views import (
    CASE_LIST_LIMIT,
    MAX_NOTE,
    MAX_REPLY,
    MESSAGES,
    _agent,
    _back,
    _conversation_url,
    _done,
    _fields,
    _may_edit_cases,
    _refuse,
    _render,
    _services,
    _session,
    _sessions,
    _tz,
    utcnow,
)
from bot.cases.errors import CaseNotFound, IllegalTransition
from bot.cases.model import STATUS_LABELS, Case, Priority, Status
from bot.cases.rules import next_deadline, next_statuses, normalise_case_number
from bot.handoff.errors import AlreadyInConversation, AlreadyTaken
from bot.handoff.model import Handoff
from bot.rasa_api import RasaError


@dataclass(frozen=True)
class WorkRow:
    case: Case
    owes: str  # "first_response" or "resolution"
    due: datetime
    late: bool
    handoff: Handoff | None  # the customer's conversation with a person, if one is open
    withdrawn: bool = False  # the customer asked for the complaint to be withdrawn


async def cases_page(request: Request) -> HTTPResponse:
    """Every open case, the nearest deadline first: cases filed by the bot at night, or whose
    customer never asked for a person, are worked from here, not only from a conversation."""
    services = _services(request)
    now = utcnow()
    talking = {h.sender_id: h for h in await services.handoffs.open_conversations()}
    rows = []
    cases = await services.cases.worklist(CASE_LIST_LIMIT)
    withdrawn = await services.cases.withdrawn_among(cases)
    for case in cases:
        owes, due = next_deadline(case)
        row = WorkRow(case, owes, due, due < now, talking.get(case.sender_id), case.number in withdrawn)
        rows.append(row)
    flashes = await _sessions(request).pop_flashes(_session(request).sid)
    return _render(
        request,
        "console/cases.html",
        rows=rows,
        late=sum(r.late for r in rows),
        limit=CASE_LIST_LIMIT,
        now=now,
        flashes=flashes,
    )


async def case_page(request: Request, number: str) -> HTTPResponse:
    """One case with its history; a supervisor (or the agent talking with the customer) works it."""
    canonical = normalise_case_number(number)
    services = _services(request)
    try:
        case = await services.cases.get(canonical or "")
    except CaseNotFound:
        return _refuse(request, 404, MESSAGES["no_case"])
    handoff = await services.handoffs.open_for(case.sender_id)
    owes, due = next_deadline(case)
    # Only a case with nobody talking to its WeChat customer offers the contact form; only then is
    # WeChat's window worth reading, and a closed one replaces the form with the reason.
    contactable = case.status.is_open and case.channel == "wechat" and handoff is None
    unreachable = await _unreachable(request, case) if contactable else None
    flashes = await _sessions(request).pop_flashes(_session(request).sid)
    return _render(
        request,
        "console/case.html",
        item={"case": case, "next": [s.value for s in next_statuses(case.status)]},
        case=case,
        owes=owes,
        due=due,
        late=case.status.is_open and due < utcnow(),
        handoff=handoff,
        may_edit_cases=_may_edit_cases(_agent(request), handoff),
        back_name="case",
        back_value=case.number,
        contactable=contactable,
        unreachable=unreachable,
        flashes=flashes,
    )


async def _editable_case(request: Request, number: str) -> Case | HTTPResponse:
    """Cases change from a conversation: by the agent holding the customer's conversation, or a
    supervisor. (Only who may edit is read first; the change itself is checked in its transaction.)"""
    canonical = normalise_case_number(number)
    if canonical is None:
        return _refuse(request, 404, MESSAGES["no_case"])
    services = _services(request)
    try:
        case = await services.cases.get(canonical)
    except CaseNotFound:
        return _refuse(request, 404, MESSAGES["no_case"])
    me = _agent(request)
    if not me.supervisor and not _may_edit_cases(me, await services.handoffs.open_for(case.sender_id)):
        return _refuse(request, 403, "只有正在接待这位客户的客服或主管可以修改案件。")
    return case


async def case_status(request: Request, number: str) -> HTTPResponse:
    fields = _fields(request)
    case = await _editable_case(request, number)
    if isinstance(case, HTTPResponse):
        return case
    try:
        to = Status(fields.get("status", ""))
    except ValueError:
        return _refuse(request, 400, "请选择新的状态。", _back(fields))
    note = fields.get("note", "").strip()[:MAX_NOTE] or None
    try:
        await _services(request).cases.change_status(
            case.number, to, actor=f"agent:{_agent(request).username}", note=note
        )
    except CaseNotFound:
        return _refuse(request, 404, MESSAGES["no_case"])
    except IllegalTransition as exc:
        current = STATUS_LABELS.get(Status(exc.current), exc.current)
        return _refuse(
            request,
            409,
            f"案件 {exc.number} 当前为「{current}」，不能改为「{STATUS_LABELS.get(to, to.value)}」。",
            _back(fields),
        )
    return await _done(request, _back(fields), f"案件 {case.number} 已改为「{STATUS_LABELS[to]}」。")


async def case_priority(request: Request, number: str) -> HTTPResponse:
    fields = _fields(request)
    case = await _editable_case(request, number)
    if isinstance(case, HTTPResponse):
        return case
    try:
        to = Priority(fields.get("priority", ""))
    except ValueError:
        return _refuse(request, 400, "优先级应为 P1–P4。", _back(fields))
    note = fields.get("note", "").strip()[:MAX_NOTE] or None
    try:
        await _services(request).cases.change_priority(
            case.number, to, actor=f"agent:{_agent(request).username}", note=note
        )
    except CaseNotFound:
        return _refuse(request, 404, MESSAGES["no_case"])
    return await _done(request, _back(fields), f"案件 {case.number} 的优先级已改为 {to.value}。")


async def case_note(request: Request, number: str) -> HTTPResponse:
    fields = _fields(request)
    case = await _editable_case(request, number)
    if isinstance(case, HTTPResponse):
        return case
    note = fields.get("note", "").strip()
    if not note:
        return _refuse(request, 400, "备注不能为空。", _back(fields))
    if len(note) > MAX_NOTE:
        return _refuse(request, 400, f"备注太长了（最多 {MAX_NOTE} 字）。", _back(fields))
    try:
        await _services(request).cases.add_note(case.number, note, actor=f"agent:{_agent(request).username}")
    except CaseNotFound:
        return _refuse(request, 404, MESSAGES["no_case"])
    return await _done(request, _back(fields), f"已为案件 {case.number} 添加备注。")


async def _unreachable(request: Request, case: Case) -> str | None:
    """Why WeChat would refuse a message to the case's customer now, with what to do instead; None
    when it would not. The case page shows it in place of the form, and a post gets it as the error."""
    phone = f"请电话联系客户（{case.phone}）" if case.phone else "请用其他方式联系客户"
    if case.channel != "wechat":
        return f"这个案件不是在微信上登记的，无法在微信上联系；{phone}。"
    is_open, last = await reachable(
        request.app.ctx.redis, _services(request).customers, case.sender_id, utcnow()
    )
    if is_open:
        return None
    since = f"最后一次发消息是 {local(last, _tz(request), '%m-%d %H:%M')}，" if last else "没有发过消息，"
    return f"客户{since}已超过 48 小时，微信不允许主动发送客服消息；{phone}。"


async def case_contact(request: Request, number: str) -> HTTPResponse:
    """Write to the customer about a case from the case page: a conversation held by the writer
    starts, and the message is its first word (the case's first response, if it still owes one)."""
    fields = _fields(request)
    canonical = normalise_case_number(number)
    services = _services(request)
    try:
        case = await services.cases.get(canonical or "")
    except CaseNotFound:
        return _refuse(request, 404, MESSAGES["no_case"])
    back = f"/console/cases/{case.number}"
    text = fields.get("text", "").strip()
    if not text:
        return _refuse(request, 400, "请输入要发给客户的消息。", back)
    if len(text) > MAX_REPLY:
        return _refuse(request, 400, f"消息太长了（最多 {MAX_REPLY} 字）。", back)
    if not case.status.is_open:  # the page offers no form then; this is a post from a stale page
        return _refuse(request, 409, "这个案件已经解决或关闭了；需要再跟进请先重新打开案件。", back)
    unreachable = await _unreachable(request, case)
    if unreachable:
        return _refuse(request, 409, unreachable, back)
    me = _agent(request)
    try:
        handoff = await services.handoffs.reach_out(
            case.sender_id, case.channel, me, case_number=case.number, priority=case.priority.value
        )
    except AlreadyInConversation as exc:
        return _refuse(
            request,
            409,
            "这位客户已经在人工对话中（排队或接待中），请在对话页联系。",
            _conversation_url(exc.handoff_id),
        )
    except AlreadyTaken:
        return _refuse(request, 409, MESSAGES["taken"], back)
    except RasaError:
        return _refuse(request, 502, MESSAGES["rasa_down"], back)
    try:
        await services.handoffs.reply(handoff.id or 0, me, text)
    except RasaError:  # the conversation is open and the agent's: they can try again from it
        return _refuse(request, 502, MESSAGES["rasa_down"], _conversation_url(handoff.id or 0))
    return await _done(
        request, _conversation_url(handoff.id or 0), "已在微信上联系客户，客户的回复会显示在这里。"
    )
