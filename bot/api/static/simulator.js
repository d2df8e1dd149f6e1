// The phone simulator: sends what "the customer" does to the WeChat stand-in and draws the conversation.
// Vanilla JS, no build step. Live updates over Server-Sent Events; polling when those are unavailable.
(function () {
  "use strict";

  const config = JSON.parse(document.getElementById("standin-config").textContent);
  const $ = (id) => document.getElementById(id);
  const chat = $("chat");
  const MODES = { plaintext: "明文", compatible: "兼容", safe: "安全" };
  const MENU = { complain: "投诉", case_status: "查进度", human: "人工" };
  const OPENID_KEY = "careloop.simulator.openid";
  const MAX_VIDEO_BYTES = 7 << 20; // base64 of it stays under the stand-in's 11 MB request limit

  let openid = localStorage.getItem(OPENID_KEY) || freshOpenid();
  let lastSeq = 0;
  let lastTime = 0;
  let seen = new Set();
  let rows = new Map(); // seq of a user action -> the element its delivery status goes under
  let source = null;
  let pollTimer = null;
  let sseFailures = 0;
  let voiceMode = false;

  function freshOpenid() {
    const id = "o_demo_" + Math.random().toString(36).slice(2, 10);
    localStorage.setItem(OPENID_KEY, id);
    return id;
  }

  function el(tag, className, text) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }

  function scrollDown() {
    chat.scrollTop = chat.scrollHeight;
  }

  function showMode(mode) {
    const label = MODES[mode] || mode;
    const badge = $("mode-badge");
    badge.textContent = label;
    badge.dataset.mode = mode;
    $("mode-text").textContent = label + "模式";
  }

  function setLive(text) {
    $("live").textContent = text;
  }

  function mediaUrl(mediaId) {
    return "/standin/media/" + encodeURIComponent(mediaId);
  }

  function timeDivider(seconds) {
    if (seconds - lastTime > 180) {
      const d = new Date(seconds * 1000);
      const hh = String(d.getHours()).padStart(2, "0");
      const mm = String(d.getMinutes()).padStart(2, "0");
      chat.appendChild(el("div", "when", `${d.getMonth() + 1}月${d.getDate()}日 ${hh}:${mm}`));
    }
    lastTime = seconds;
  }

  function systemLine(text, extra) {
    const line = el("div", "system" + (extra ? " " + extra : ""), text);
    chat.appendChild(line);
    scrollDown();
    return line;
  }

  function row(side, bubble) {
    const wrap = el("div", "msg " + side);
    wrap.appendChild(el("div", "avatar", side === "user" ? "我" : "客服"));
    const stack = el("div", "stack");
    stack.appendChild(bubble);
    wrap.appendChild(stack);
    chat.appendChild(wrap);
    return stack;
  }

  // ---- what the customer did ----
  function renderUser(item) {
    const m = item.message;
    if (m.MsgType === "event") {
      const texts = {
        subscribe: "你关注了公众号",
        unsubscribe: "你取消了关注",
        CLICK: "点击菜单「" + (MENU[m.EventKey] || m.EventKey) + "」",
        VIEW: "打开菜单链接 " + (m.EventKey || ""),
      };
      const line = systemLine(texts[m.Event] || m.Event);
      rows.set(item.seq, line);
      return;
    }
    const bubble = el("div", "bubble");
    if (m.MsgType === "text") {
      bubble.textContent = m.Content;
      if (m.bizmsgmenuid) bubble.appendChild(el("span", "tag", "菜单选项 #" + m.bizmsgmenuid));
    } else if (m.MsgType === "voice") {
      bubble.textContent = "🎤 语音　" + (m.Recognition ? "「" + m.Recognition + "」" : "(无识别结果)");
    } else if (m.MsgType === "image") {
      bubble.className = "bubble media";
      const img = el("img");
      img.src = mediaUrl(m.MediaId);
      img.alt = "图片";
      bubble.appendChild(img);
    } else if (m.MsgType === "video") {
      bubble.className = "bubble media";
      const video = el("video");
      video.src = mediaUrl(m.MediaId);
      video.controls = true;
      bubble.appendChild(video);
    } else if (m.MsgType === "link") {
      bubble.textContent = "🔗 " + (m.Title || m.Url);
    } else if (m.MsgType === "location") {
      bubble.textContent = "📍 " + (m.Label || "位置") + `（${m.Location_X}, ${m.Location_Y}）`;
    } else {
      bubble.textContent = "[" + m.MsgType + "]";
    }
    const stack = row("user", bubble);
    stack.appendChild(el("div", "status", "发送中…"));
    rows.set(item.seq, stack);
  }

  function renderDelivery(item) {
    const target = rows.get(item.ref);
    const attempts = item.attempts || [];
    const last = attempts[attempts.length - 1] || {};
    let text;
    if (item.ok) {
      const body = (last.body || "").trim();
      const what = body === "" ? "空串" : body === "success" ? "success" : "被动回复";
      text = `✓ ${what}` + (last.elapsed_ms === undefined ? "" : ` ${Math.round(last.elapsed_ms)} ms`);
    } else {
      text = "✗ " + (item.error || "失败");
    }
    if (attempts.length > 1) text += ` · 共 ${attempts.length} 次推送`;
    const status = el("div", "status " + (item.ok ? "ok" : "bad"), text);
    status.title = attempts
      .map((a, i) => `#${i + 1} ${a.status || a.error} ${a.elapsed_ms} ms ${a.body || ""}`)
      .join("\n");
    if (target && target.classList.contains("stack")) {
      const old = target.querySelector(".status");
      if (old) old.replaceWith(status);
      else target.appendChild(status);
    } else if (target) {
      target.textContent += "　" + text;
    }
    if (item.notice) systemLine(item.notice, "error");
  }

  // ---- what the account sent ----
  function menuOptions(menu) {
    const box = el("div", "menu-options");
    (menu.list || []).forEach((option) => {
      const button = el("button", "", option.content);
      button.type = "button";
      button.addEventListener("click", () =>
        send({ type: "text", content: option.content, bizmsgmenuid: String(option.id) })
      );
      box.appendChild(button);
    });
    return box;
  }

  function card(title, sub, rowsOf, link, picurl) {
    const box = el("div", "bubble card");
    if (picurl) {
      const img = el("img");
      img.src = picurl;
      img.alt = "";
      box.appendChild(img);
    }
    box.appendChild(el("div", "card-title", title));
    if (sub) box.appendChild(el("div", "card-sub", sub));
    if (rowsOf.length) {
      const body = el("div", "card-body");
      rowsOf.forEach(([k, v]) => {
        const r = el("div", "card-row");
        if (k) r.appendChild(el("span", "k", k));
        r.appendChild(el("span", "v", v));
        body.appendChild(r);
      });
      box.appendChild(body);
    }
    if (link) {
      const foot = el("div", "card-foot");
      const a = el("a", "", "详情 ›");
      a.href = link;
      a.target = "_blank";
      a.rel = "noopener";
      foot.appendChild(a);
      box.appendChild(foot);
    }
    return box;
  }

  function accountBubble(m) {
    const kind = m.msgtype;
    const body = m[kind] || {};
    if (kind === "text") return el("div", "bubble", body.content);
    if (kind === "msgmenu") {
      const bubble = el("div", "bubble");
      if (body.head_content) bubble.appendChild(el("div", "", body.head_content));
      bubble.appendChild(menuOptions(body));
      if (body.tail_content) bubble.appendChild(el("div", "", body.tail_content));
      return bubble;
    }
    if (kind === "image") {
      const bubble = el("div", "bubble media");
      const img = el("img");
      img.src = mediaUrl(body.media_id);
      img.alt = "图片";
      bubble.appendChild(img);
      return bubble;
    }
    if (kind === "news") {
      const a = (body.articles || [])[0] || {};
      return card(a.title || "图文消息", "", a.description ? [["", a.description]] : [], a.url, a.picurl);
    }
    if (kind === "miniprogrampage") return card("小程序：" + (body.title || ""), body.pagepath, [], "", "");
    const names = { voice: "语音消息", video: "视频", music: "音乐", mpnews: "图文消息", wxcard: "卡券" };
    return el("div", "bubble", "[" + (names[kind] || kind) + "]" + (body.title ? " " + body.title : ""));
  }

  function renderTemplate(item) {
    const m = item.message;
    const data = m.data || {};
    const value = (k) => (data[k] && data[k].value !== undefined ? String(data[k].value) : "");
    const rowsOf = Object.keys(data)
      .filter((k) => k !== "first" && k !== "remark")
      .map((k) => [k, value(k)]);
    if (value("remark")) rowsOf.push(["", value("remark")]);
    const title = value("first") || "模板消息";
    row("account", card(title, "模板 " + m.template_id, rowsOf, m.url || "", ""));
  }

  function render(item) {
    if (seen.has(item.seq)) return;
    seen.add(item.seq);
    lastSeq = Math.max(lastSeq, item.seq);
    if (item.kind === "delivery") {
      renderDelivery(item);
    } else {
      timeDivider(item.time);
      if (item.direction === "from_user") {
        renderUser(item);
      } else if (item.kind === "template") {
        renderTemplate(item);
      } else if (item.message && item.message.msgtype === "transfer_customer_service") {
        systemLine("（已转人工客服）");
      } else {
        row("account", accountBubble(item.message));
      }
      if (item.mode) showMode(item.mode);
    }
    scrollDown();
  }

  // ---- keeping up to date ----
  function stopUpdates() {
    if (source) source.close();
    source = null;
    if (pollTimer) clearInterval(pollTimer);
    pollTimer = null;
  }

  async function poll() {
    const owner = openid;
    try {
      const resp = await fetch(
        `/standin/sim/messages?openid=${encodeURIComponent(owner)}&after=${lastSeq}`
      );
      if (!resp.ok || owner !== openid) return;
      (await resp.json()).items.forEach(render);
    } catch (err) {
      setLive("轮询失败，重试中…");
    }
  }

  function startPolling() {
    stopUpdates();
    setLive("轮询（每 2 秒）");
    poll();
    pollTimer = setInterval(poll, 2000);
  }

  function startUpdates() {
    stopUpdates();
    if (!window.EventSource || sseFailures >= 3) {
      startPolling();
      return;
    }
    source = new EventSource(`/standin/sim/stream?openid=${encodeURIComponent(openid)}&after=${lastSeq}`);
    source.addEventListener("item", (event) => render(JSON.parse(event.data)));
    source.onopen = () => {
      sseFailures = 0;
      setLive("实时（SSE）");
    };
    source.onerror = () => {
      sseFailures += 1;
      if (sseFailures >= 3) startPolling();
      else setLive("重新连接中…");
    };
  }

  function switchTo(id) {
    openid = id;
    localStorage.setItem(OPENID_KEY, id);
    $("openid").value = id;
    chat.textContent = "";
    seen = new Set();
    rows = new Map();
    lastSeq = 0;
    lastTime = 0;
    startUpdates();
  }

  // ---- the customer's actions ----
  async function send(body) {
    body.openid = openid;
    const button = $("send");
    button.disabled = true;
    try {
      const resp = await fetch("/standin/sim/send", {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify(body),
      });
      const data = await resp.json().catch(() => ({}));
      if (!resp.ok) {
        systemLine(data.error || "发送失败（HTTP " + resp.status + "）", "error");
        return false;
      }
      if (data.mode) showMode(data.mode);
      if (!source) poll();
      return true;
    } catch (err) {
      systemLine("无法连接模拟器：" + err, "error");
      return false;
    } finally {
      button.disabled = false;
    }
  }

  function shrinkImage(file) {
    // Phone photos are large; send a JPEG of at most 1280 px, like WeChat's compressed upload.
    return new Promise((resolve, reject) => {
      const img = new Image();
      img.onload = () => {
        const scale = Math.min(1, 1280 / Math.max(img.width, img.height));
        const canvas = document.createElement("canvas");
        canvas.width = Math.round(img.width * scale);
        canvas.height = Math.round(img.height * scale);
        canvas.getContext("2d").drawImage(img, 0, 0, canvas.width, canvas.height);
        URL.revokeObjectURL(img.src);
        resolve(canvas.toDataURL("image/jpeg", 0.85).split(",", 2)[1]);
      };
      img.onerror = () => reject(new Error("不是图片"));
      img.src = URL.createObjectURL(file);
    });
  }

  $("composer").addEventListener("submit", async (event) => {
    event.preventDefault();
    const input = $("text");
    const text = input.value.trim();
    if (!voiceMode && !text) return;
    const body = voiceMode ? { type: "voice", recognition: text } : { type: "text", content: text };
    if (await send(body)) input.value = "";
  });

  $("voice-toggle").addEventListener("click", () => {
    voiceMode = !voiceMode;
    $("voice-toggle").setAttribute("aria-pressed", String(voiceMode));
    $("composer").classList.toggle("voice", voiceMode);
    $("text").placeholder = voiceMode ? "语音识别文字（按发送即发出语音）" : "输入消息";
    $("text").focus();
  });

  function base64Of(file) {
    return new Promise((resolve, reject) => {
      const reader = new FileReader();
      reader.onload = () => resolve(String(reader.result).split(",", 2)[1]);
      reader.onerror = () => reject(new Error("读取失败"));
      reader.readAsDataURL(file);
    });
  }

  $("image").addEventListener("change", async (event) => {
    const file = event.target.files[0];
    event.target.value = "";
    if (!file) return;
    const isVideo = file.type.startsWith("video/");
    try {
      if (isVideo && file.size > MAX_VIDEO_BYTES) throw new Error("视频不能超过 7 MB");
      await send(isVideo ? { type: "video", video: await base64Of(file) } : { type: "image", image: await shrinkImage(file) });
    } catch (err) {
      systemLine((isVideo ? "视频" : "图片") + "无法发送：" + err.message, "error");
    }
  });

  document.querySelectorAll(".menu button").forEach((button) =>
    button.addEventListener("click", () => send({ type: "event", event: "CLICK", event_key: button.dataset.key }))
  );
  $("subscribe").addEventListener("click", () => send({ type: "event", event: "subscribe" }));
  $("unsubscribe").addEventListener("click", () => send({ type: "event", event: "unsubscribe" }));
  $("new-customer").addEventListener("click", () => switchTo(freshOpenid()));
  $("openid").addEventListener("change", () => {
    const id = $("openid").value.trim();
    if (/^[A-Za-z0-9_-]{1,64}$/.test(id)) switchTo(id);
    else $("openid").value = openid;
  });

  showMode(config.mode);
  switchTo(openid);
})();
