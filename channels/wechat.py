"""WeChat official account (公众号) channel for Rasa.

The callback answers ``success`` at once: it only verifies the request (signature in constant time,
timestamp, AES in safe/compatible mode), refuses anything doubtful (403/400, never reaching Rasa),
and queues the message in Redis, de-duplicated by MsgId. The message is then handled in the
background, per customer in arrival order, and the bot's replies go out through the gateway
(customer-service API) rather than the 5-second passive reply.

Callbacks can come here (``/webhooks/wechat/webhook`` on the Rasa server) or, better under load, to
the front process (bot/wechat/front.py), which queues the same way and announces the customer;
this channel then handles the message exactly as if it had taken the callback itself.
"""

from __future__ import annotations

import asyncio
import logging
import mimetypes
import time
from collections.abc import Awaitable, Callable
from datetime import datetime, timezone
from typing import Any

from rasa.core.channels.channel import InputChannel, OutputChannel, UserMessage
from sanic import Blueprint, Request, Sanic
from sanic.response import HTTPResponse, json, text

from bot.cases.intake import is_cancellation
from bot.cases.model import Attachment
from bot.config import Settings
from bot.handoff.model import MENU_SHOWN, Handoff, HandoffStatus
from bot.wechat.front import query_of
from bot.wechat.inbox import QueueRunner
from bot.wechat.protocol import InboundMessage
from bot.wechat.runtime import WeChatRuntime
from channels.parse_ahead import BATCH, parse_together

logger = logging.getLogger(__name__)

ANSWERS = {
    "voice_unclear": "抱歉，这条语音我没能听清，麻烦您打字告诉我，谢谢🙏",
    "unsupported": "抱歉，这类消息我暂时处理不了，请用文字描述您的问题，或发送图片、视频。",
    "image_filed": "图片收到了，已附在您的投诉 {number} 中，处理人员会一并查看。",
    "image_unfiled": "图片收到了👌 请再用文字简单描述一下遇到的问题，我帮您登记投诉，图片会一起附上。",
    "video_filed": "视频收到了，已附在您的投诉 {number} 中，处理人员会一并查看。",
    "video_unfiled": "视频收到了👌 请再用文字简单描述一下遇到的问题，我帮您登记投诉，视频会一起附上。",
    "link_filed": "链接收到了🔗 已记在您的投诉 {number} 中，处理人员会一并查看。",
    "link_unfiled": "链接收到了🔗 请再用文字简单描述一下遇到的问题，我帮您登记投诉，链接会一起附上。",
    "location_filed": "位置收到了📍 已记在您的投诉 {number} 中，处理人员上门时会用到。",
    "location_unfiled": "位置收到了📍 请再用文字简单描述一下遇到的问题，我帮您登记投诉，位置会一起附上。",
    # A complaint is being described (the bot asked for the order number or the phone): no need to
    # describe it again, and the picture waits for that case rather than joining an older one.
    "image_pending": "图片收到了👌 登记投诉时会一起附上，请接着回答上面的问题。",
    "location_pending": "位置收到了📍 登记投诉时会一起附上，请接着回答上面的问题。",
    "video_pending": "视频收到了👌 登记投诉时会一起附上，请接着回答上面的问题。",
    "link_pending": "链接收到了🔗 登记投诉时会一起附上，请接着回答上面的问题。",
    "trouble": "抱歉，系统开小差了，您的消息已记录，我们会尽快处理。着急的话请回复“转人工”。",
}


#: WeChat's media messages and the kind of attachment each becomes (a 小视频 is a video like any other).
MEDIA_KINDS = {"image": "image", "video": "video", "shortvideo": "video"}
#: How each reads in the transcript an agent sees.
SHOWN = {"image": "[图片]", "video": "[视频]"}


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


class WeChatOutput(OutputChannel):
    """Sends what the bot says through the gateway (recorded in the outbox, window-checked), now or
    queued for the worker (``WECHAT_OUTBOUND``)."""

    @classmethod
    def name(cls) -> str:
        return "wechat"

    def __init__(self, runtime: WeChatRuntime) -> None:
        self._out = runtime.outbound

    async def send_text_message(self, recipient_id: str, text: str, **kwargs: Any) -> None:
        # Not split at blank lines like Rasa's REST channel: each message counts against WeChat's allowance.
        await self._out.send_text(recipient_id, text)

    async def send_text_with_buttons(
        self, recipient_id: str, text: str, buttons: list[dict[str, Any]], **kwargs: Any
    ) -> None:
        options = [(b["title"], b["payload"]) for b in buttons]
        # An action may say what a message is for (utter_message(..., purpose="survey")): the gateway
        # reports a lost survey question back, so the survey is not left "sent".
        await self._out.send_menu(recipient_id, text, options, purpose=str(kwargs.get("purpose") or "reply"))

    async def send_quick_replies(
        self, recipient_id: str, text: str, quick_replies: list[dict[str, Any]], **kwargs: Any
    ) -> None:
        await self.send_text_with_buttons(recipient_id, text, quick_replies)

    async def send_image_url(self, recipient_id: str, image: str, **kwargs: Any) -> None:
        await self._out.send_image_url(recipient_id, image)

    async def send_attachment(self, recipient_id: str, attachment: str, **kwargs: Any) -> None:
        await self._out.send_text(recipient_id, str(attachment))

    async def send_custom_json(self, recipient_id: str, json_message: dict[str, Any], **kwargs: Any) -> None:
        if "template" in json_message:  # the configured template message (outside the 48 h window)
            template = json_message["template"]
            await self._out.send_template(recipient_id, template.get("data", {}), template.get("url"))
            return
        kind = str(json_message.get("msgtype") or "custom")
        await self._out.deliver(recipient_id, kind, json_message)


class WeChatInput(InputChannel):
    """Registered in credentials.yml as ``channels.wechat.WeChatInput``; webhook /webhooks/wechat/webhook."""

    #: Seconds between looks for queues nobody is draining (after a crash or a lost announcement).
    sweep_interval: float = 2.0

    @classmethod
    def name(cls) -> str:
        return "wechat"

    @classmethod
    def from_credentials(cls, credentials: dict[str, Any] | None) -> WeChatInput:
        return cls(Settings.from_env())

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.runtime: WeChatRuntime | None = None
        self._runner: QueueRunner[InboundMessage] | None = None
        self._app: Sanic | None = None
        self._on_new_message: Callable[[UserMessage], Awaitable[Any]] | None = None
        self._menu = dict(settings.wechat.menu_intents)
        #: Messages parsed ahead of their turn (``_parse_ahead``), by dedupe key, until handled.
        self._parsed: dict[str, UserMessage] = {}

    def get_output_channel(self) -> OutputChannel:
        assert self.runtime is not None, "the WeChat channel has not started"
        return WeChatOutput(self.runtime)

    # --- the webhook ----------------------------------------------------------------------------

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        self._on_new_message = on_new_message
        bp = Blueprint("wechat_webhook", __name__)

        @bp.listener("before_server_start")
        async def _start(app: Sanic, _loop: Any) -> None:
            if not self.settings.wechat.configured:
                logger.warning(
                    "WECHAT_APPID / WECHAT_APPSECRET / WECHAT_TOKEN unset: WeChat callbacks get 503"
                )
                return
            self._app = app
            self.runtime = WeChatRuntime.build(self.settings)
            # WECHAT_CONCURRENCY at a time: Rasa's inference runs on this event loop, so a few in
            # flight keep it busy and more only delay everyone's reply; the rest wait in Redis.
            self._runner = QueueRunner(
                self.runtime.inbox, self._handle, self.settings.wechat.concurrency, self.sweep_interval
            )
            self._runner.start()  # takes the customers the front announces, and sweeps

        @bp.listener("after_server_stop")
        async def _stop(_app: Sanic, _loop: Any) -> None:
            if self._runner is not None:
                await self._runner.stop()
            if self.runtime is not None:
                await self.runtime.close()

        @bp.route("/", methods=["GET"])
        async def health(_: Request) -> HTTPResponse:
            return json({"status": "ok" if self.runtime else "not configured"})

        @bp.route("/webhook", methods=["GET"])
        async def verify(request: Request) -> HTTPResponse:
            if self.runtime is None:
                return text("not configured", status=503)
            answer = self.runtime.desk.verify_url(query_of(request))
            return text(answer.body, status=answer.status)

        @bp.route("/webhook", methods=["POST"])
        async def receive(request: Request) -> HTTPResponse:
            if self.runtime is None:
                return text("not configured", status=503)
            answer = await self.runtime.desk.receive(query_of(request), request.body or b"")
            if answer.fresh is not None and self._runner is not None:
                self._runner.drain(answer.fresh.openid)
            return text(answer.body, status=answer.status)

        return bp

    # --- handling one message, in the background ------------------------------------------------

    async def _handle(self, message: InboundMessage) -> None:
        runtime = self.runtime
        assert runtime is not None
        now = utcnow()
        try:
            self._parse_ahead(message)
            if message.kind == "event":
                await self._handle_event(message, now)
                return
            await runtime.outbound.customer_wrote(message.openid, message.created or time.time(), now)
            handoff = await runtime.services.handoffs.open_for(message.openid)
            if handoff is not None:
                await self._to_the_person(message, handoff, now)
                return
            if message.kind == "text":
                payload = await runtime.gateway.menu_payload(message.openid, message.menu_id)
                await self._to_rasa(message, payload or message.content)
            elif message.kind == "voice":
                if message.recognition.strip():
                    await self._to_rasa(message, message.recognition.strip())
                else:
                    await self._reply_outside_rasa(message, "[语音]", ANSWERS["voice_unclear"])
            elif message.kind in MEDIA_KINDS:
                await self._handle_media(message, now)
            elif message.kind == "location" and message.latitude and message.longitude:
                describing = await self._describing_a_complaint(message.openid)
                attachment = await self._keep_reference(message, "location", now, hold=describing)
                answer = _attachment_answer("location", attachment, describing)
                await self._reply_outside_rasa(message, _shown_location(message), answer)
            elif message.kind == "link" and message.url:
                describing = await self._describing_a_complaint(message.openid)
                attachment = await self._keep_reference(message, "link", now, hold=describing)
                answer = _attachment_answer("link", attachment, describing)
                await self._reply_outside_rasa(message, _shown_link(message), answer)
            else:
                await self._reply_outside_rasa(message, f"[{message.kind}]", ANSWERS["unsupported"])
        except Exception:
            logger.exception("WeChat message %s from %s failed", message.dedupe_key, message.openid)
            await runtime.outbound.send_text(message.openid, ANSWERS["trouble"], purpose="error")
            raise
        finally:
            self._parsed.pop(message.dedupe_key, None)

    def _parse_ahead(self, message: InboundMessage) -> None:
        """Parse this message together with the next few waiting for a slot (channels/parse_ahead.py):
        under load one run of the NLU graph serves up to BATCH messages, and when their turn comes
        Rasa only runs the dialogue. Alone (no queue), a message is parsed as before."""
        if message.dedupe_key in self._parsed or not _plain_text(message) or self._runner is None:
            return
        batch = [message]
        for upcoming in self._runner.waiting():
            if len(batch) == BATCH:
                break
            if upcoming.dedupe_key not in self._parsed and _plain_text(upcoming):
                batch.append(upcoming)
        if len(batch) == 1:
            return  # nothing to gain: Rasa parses it as it always has
        prepared = [self._user_message(m, _plain_text(m)) for m in batch]
        if parse_together(self._processor(), prepared):
            self._parsed.update((m.dedupe_key, p) for m, p in zip(batch, prepared, strict=True))

    async def _to_the_person(self, message: InboundMessage, handoff: Handoff, now: datetime) -> None:
        """A person holds (or is about to hold) the conversation: Rasa, paused, only records the
        message; the agent sees it live. "算了" while still waiting goes back to the bot."""
        runtime = self.runtime
        assert runtime is not None
        if message.kind == "text":
            shown = message.content
            for_rasa = await runtime.gateway.menu_payload(message.openid, message.menu_id) or message.content
        elif message.kind == "voice":
            shown = for_rasa = message.recognition.strip() or "[语音]"
        elif message.kind in MEDIA_KINDS:
            attachment = await self._keep_media(message, now)
            where = attachment.stored_path or message.pic_url or f"media_id={message.media_id}"
            shown = for_rasa = f"{SHOWN[MEDIA_KINDS[message.kind]]} {where}"
        elif message.kind == "location" and message.latitude and message.longitude:
            await self._keep_reference(message, "location", now)
            shown = for_rasa = _shown_location(message)
        elif message.kind == "link" and message.url:
            await self._keep_reference(message, "link", now)
            shown = for_rasa = _shown_link(message)
        else:
            shown = for_rasa = f"[{message.kind}]"
        if message.kind not in MEDIA_KINDS:
            await self._to_rasa(message, for_rasa)
        if handoff.status is HandoffStatus.WAITING and is_cancellation(shown):
            await runtime.services.handoffs.cancel(message.openid)
            return
        await runtime.services.handoffs.customer_wrote(handoff, shown)

    async def _handle_event(self, message: InboundMessage, now: datetime) -> None:
        runtime = self.runtime
        assert runtime is not None
        if message.event == "unsubscribe":
            await runtime.customers.unsubscribed(message.openid, self.name(), now)
            return
        if message.event in ("subscribe", "subscribe_scan", "click", "scan"):
            await runtime.outbound.customer_wrote(message.openid, message.created or time.time(), now)
        if message.event in ("subscribe", "subscribe_scan"):
            await runtime.customers.subscribed(message.openid, self.name(), now)
            await self._to_rasa(message, "/greet")
        elif message.event == "click":
            intent = self._menu.get(message.event_key)
            if intent is None:
                logger.warning("menu key %r is not mapped to an intent", message.event_key)
                intent = "greet"
            handoff = await runtime.services.handoffs.open_for(message.openid)
            await self._to_rasa(message, f"/{intent}")
            if handoff is not None:  # the bot is paused: the tap is a word to the agent, like a message
                shown = f"[菜单] {MENU_SHOWN.get(intent, message.event_key)}"
                await runtime.services.handoffs.customer_wrote(handoff, shown)
        else:  # VIEW, TEMPLATESENDJOBFINISH, LOCATION reports...: nothing to say
            logger.debug("WeChat event %s from %s ignored", message.event, message.openid)

    async def _handle_media(self, message: InboundMessage, now: datetime) -> None:
        """A photo or a video of the fault: kept with the case, acknowledged. A video used to get
        "这类消息我暂时处理不了", often the clearest report a customer can send ("你看这漏水")."""
        describing = await self._describing_a_complaint(message.openid)
        attachment = await self._keep_media(message, now, hold=describing)
        kind = MEDIA_KINDS[message.kind]
        await self._reply_outside_rasa(message, SHOWN[kind], _attachment_answer(kind, attachment, describing))

    async def _describing_a_complaint(self, openid: str) -> bool:
        """The intake form is running and already has the problem in words."""
        processor = self._processor()
        if processor is None:
            return False
        tracker = await processor.fetch_tracker_with_initial_session(
            openid, output_channel=self.get_output_channel()
        )
        return tracker.active_loop_name == "complaint_form" and bool(
            tracker.get_slot("complaint_description")
        )

    def _processor(self) -> Any:
        agent = getattr(getattr(self._app, "ctx", None), "agent", None)
        return None if agent is None else agent.processor

    async def _keep_media(self, message: InboundMessage, now: datetime, *, hold: bool = False) -> Attachment:
        """Download the customer's photo or video and keep it with their open case (``hold``: with
        the case being described)."""
        runtime = self.runtime
        assert runtime is not None
        kind = MEDIA_KINDS[message.kind]
        stored, content_type, size = None, None, None
        try:
            data, content_type = await runtime.session.download_media(message.media_id)
            media_type = content_type.split(";")[0].strip()
            ext = mimetypes.guess_extension(media_type) if media_type.startswith(f"{kind}/") else None
            ext = ext or (".mp4" if kind == "video" else ".jpg")
            folder = runtime.settings.var_dir / "media" / message.openid
            folder.mkdir(parents=True, exist_ok=True)
            path = folder / f"{message.msg_id or int(now.timestamp())}{ext}"
            await asyncio.to_thread(path.write_bytes, data)
            stored, size = str(path), len(data)
        except Exception:  # kept by reference: WeChat holds media for three days
            logger.exception("could not download %s %s", kind, message.media_id)
        return await runtime.services.cases.attach(
            Attachment(
                sender_id=message.openid,
                channel=self.name(),
                kind=kind,
                created_at=now,
                media_id=message.media_id,
                source_url=message.pic_url or None,
                stored_path=stored,
                content_type=content_type,
                size=size,
            ),
            for_new_case=hold,
        )

    async def _keep_reference(
        self, message: InboundMessage, kind: str, now: datetime, *, hold: bool = False
    ) -> Attachment:
        """Something kept by its address, not downloaded: where the repair or delivery is (a geo: URI
        that map apps open, for the agent and the technician) or a shared link (an order page)."""
        runtime = self.runtime
        assert runtime is not None
        address = message.url if kind == "link" else _geo_uri(message)
        return await runtime.services.cases.attach(
            Attachment(
                sender_id=message.openid, channel=self.name(), kind=kind, created_at=now, source_url=address
            ),
            for_new_case=hold,
        )

    async def _to_rasa(self, message: InboundMessage, text_for_rasa: str) -> None:
        assert self._on_new_message is not None
        prepared = self._parsed.pop(message.dedupe_key, None)
        if prepared is None or prepared.text != text_for_rasa.strip():
            prepared = self._user_message(message, text_for_rasa)
        await self._on_new_message(prepared)

    def _user_message(self, message: InboundMessage, text_for_rasa: str) -> UserMessage:
        return UserMessage(
            text_for_rasa,
            self.get_output_channel(),
            message.openid,
            input_channel=self.name(),
            message_id=message.msg_id,
            metadata={"wechat": {"kind": message.kind, "msg_id": message.msg_id, "event": message.event}},
        )

    async def _reply_outside_rasa(self, message: InboundMessage, user_text: str, answer: str) -> None:
        """Answer directly, and still write both turns into the Rasa transcript."""
        runtime = self.runtime
        assert runtime is not None
        await runtime.outbound.send_text(message.openid, answer)
        processor = self._processor()
        if processor is None:
            return
        from rasa.shared.core.events import BotUttered, UserUttered

        async with processor.lock_store.lock(message.openid):
            tracker = await processor.fetch_tracker_with_initial_session(
                message.openid, output_channel=self.get_output_channel()
            )
            tracker.update(
                UserUttered(
                    user_text,
                    input_channel=self.name(),
                    metadata={"wechat": {"kind": message.kind, "msg_id": message.msg_id}},
                )
            )
            tracker.update(BotUttered(answer, metadata={"wechat": "direct"}))
            await processor.save_tracker(tracker)


__all__ = ["WeChatInput", "WeChatOutput"]


def _plain_text(message: InboundMessage) -> str:
    """What Rasa will be given for a typed message or a recognised voice message, known before its
    turn; "" for anything else (a menu tap's text depends on what the menu offered)."""
    if message.kind == "text" and not message.menu_id:
        return message.content.strip()
    if message.kind == "voice":
        return message.recognition.strip()
    return ""


def _attachment_answer(kind: str, attachment: Attachment, describing: bool) -> str:
    if attachment.case_number:
        return ANSWERS[f"{kind}_filed"].format(number=attachment.case_number)
    return ANSWERS[f"{kind}_pending" if describing else f"{kind}_unfiled"]


def _geo_uri(message: InboundMessage) -> str:
    """geo:31.2304,121.4737?q=上海市浦东新区…, which map apps open."""
    where = f"geo:{message.latitude},{message.longitude}"
    return f"{where}?q={message.label}" if message.label else where


def _shown_link(message: InboundMessage) -> str:
    """How a shared link reads in the transcript: [链接] 订单详情 https://…"""
    return " ".join(filter(None, ["[链接]", message.title.strip(), message.url]))


def _shown_location(message: InboundMessage) -> str:
    """How a location reads in the transcript an agent sees: [位置] 上海市浦东新区 (31.2304, 121.4737)."""
    return " ".join(filter(None, ["[位置]", message.label, f"({message.latitude}, {message.longitude})"]))
