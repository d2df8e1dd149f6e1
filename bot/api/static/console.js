// CareLoop agent console: live updates and small conveniences on top of server-rendered pages.
// Everything works without this file (plain forms); with it, the queue and the conversation update
// themselves over Server-Sent Events, falling back to polling every 5 s.
(function () {
  "use strict";

  const POLL_MS = 5000;
  const REFRESH_MS = 30000; // wait times on the queue page age even when nothing happens
  const meta = document.querySelector('meta[name="csrf-token"]');
  const csrf = meta ? meta.getAttribute("content") : "";

  function setStatus(text) {
    const el = document.getElementById("live-status");
    if (el) el.textContent = text;
  }

  function toLogin(resp) {
    if (resp.status === 401) {
      window.location.assign("/console/login");
      return true;
    }
    return false;
  }

  async function getHtml(url) {
    const resp = await fetch(url, {
      credentials: "same-origin",
      headers: { "X-Requested-With": "fetch", Accept: "text/html" },
    });
    if (toLogin(resp) || !resp.ok) return null;
    return resp.text();
  }

  // Live updates: SSE when it works, polling when it does not. onEvent gets (type, data).
  function follow(streamUrl, onEvent, onResync) {
    let pollTimer = null;
    function poll() {
      if (pollTimer) return;
      setStatus("实时连接不可用，每 5 秒刷新");
      pollTimer = window.setInterval(onResync, POLL_MS);
    }
    if (!window.EventSource) {
      poll();
      return;
    }
    const source = new EventSource(streamUrl);
    let wasDown = false;
    source.addEventListener("open", function () {
      setStatus("实时更新已连接");
      if (pollTimer) {
        window.clearInterval(pollTimer);
        pollTimer = null;
      }
      if (wasDown) onResync(); // catch up on anything missed while reconnecting
      wasDown = false;
    });
    source.addEventListener("error", function () {
      wasDown = true;
      if (source.readyState === EventSource.CLOSED) {
        // A refusal (401 after signing out) or a server gone: poll, which redirects on 401.
        poll();
      } else {
        setStatus("实时连接中断，正在重连…");
      }
    });
    ["queue", "turn"].forEach(function (name) {
      source.addEventListener(name, function (ev) {
        let data = null;
        try {
          data = JSON.parse(ev.data);
        } catch (e) {
          return;
        }
        onEvent(name, data);
      });
    });
  }

  // ---------------------------------------------------------------- the queue page
  function queuePage(panel) {
    let pending = null;
    async function refresh() {
      const body = await getHtml(panel.dataset.fragment);
      if (body !== null) panel.innerHTML = body; // server-rendered and escaped
    }
    function soon() {
      if (pending) return;
      pending = window.setTimeout(function () {
        pending = null;
        refresh();
      }, 300);
    }
    follow(panel.dataset.stream, soon, refresh);
    window.setInterval(refresh, REFRESH_MS);
  }

  // ---------------------------------------------------------------- a conversation
  const WHO = { customer: "客户", bot: "机器人", system: "系统" };

  function turnElement(turn) {
    const li = document.createElement("li");
    li.className = "turn " + turn.who;
    const metaEl = document.createElement("div");
    metaEl.className = "meta";
    metaEl.textContent = turn.who === "agent" ? "客服 " + (turn.agent_name || turn.agent || "") : WHO[turn.who] || "";
    const time = document.createElement("time");
    time.textContent = " " + (turn.time || "");
    metaEl.appendChild(time);
    const text = document.createElement("div");
    text.className = "text";
    text.textContent = turn.text;
    li.appendChild(metaEl);
    li.appendChild(text);
    if (turn.buttons && turn.buttons.length) {
      const chips = document.createElement("div");
      chips.className = "chips";
      turn.buttons.forEach(function (b) {
        const chip = document.createElement("span");
        chip.className = "chip";
        chip.textContent = b;
        chips.appendChild(chip);
      });
      li.appendChild(chips);
    }
    return li;
  }

  function scrollDown(list) {
    list.scrollTop = list.scrollHeight;
  }

  // What has not reached the customer (WeChat's allowance, its 48-hour window, failed sends). Each
  // reply and each customer message can change it, a moment later: the worker sends in the background.
  function deliveryPanel() {
    const panel = document.getElementById("delivery");
    let pending = null;
    async function refresh() {
      const body = await getHtml(panel.dataset.fragment);
      if (body !== null) panel.innerHTML = body;
    }
    return function soon() {
      if (!panel) return;
      if (pending) window.clearTimeout(pending);
      pending = window.setTimeout(function () {
        pending = null;
        refresh();
        window.setTimeout(refresh, 4000); // a retry or a slow send settles later
      }, 1500);
    };
  }
  let deliveryChanged = function () {};

  function conversationPage(main) {
    const list = document.getElementById("transcript");
    deliveryChanged = deliveryPanel();
    scrollDown(list);
    async function resync() {
      const body = await getHtml(main.dataset.transcript);
      if (body !== null) {
        list.innerHTML = body;
        scrollDown(list);
      }
      deliveryChanged();
    }
    follow(
      main.dataset.stream,
      function (_name, turn) {
        list.appendChild(turnElement(turn));
        scrollDown(list);
        deliveryChanged();
        if (turn.type === "status") {
          setStatus("对话已交还机器人，页面即将刷新");
          window.setTimeout(function () {
            window.location.reload();
          }, 1500);
        }
      },
      resync,
    );
    const text = document.getElementById("reply-text");
    if (text) {
      text.addEventListener("keydown", function (ev) {
        if (ev.key === "Enter" && (ev.ctrlKey || ev.metaKey)) {
          ev.preventDefault();
          text.form.requestSubmit();
        }
      });
    }
  }

  // ---------------------------------------------------------------- forms
  function showError(form, message) {
    const el = form.querySelector(".form-error");
    if (el) el.textContent = message;
    else if (message) window.alert(message);
  }

  document.addEventListener("submit", async function (ev) {
    const form = ev.target;
    if (form.dataset.confirm && !window.confirm(form.dataset.confirm)) {
      ev.preventDefault();
      return;
    }
    const mode = form.dataset.xhr;
    if (!mode) return; // an ordinary post and redirect
    ev.preventDefault();
    const button = form.querySelector('button[type="submit"]');
    if (button) button.disabled = true;
    showError(form, "");
    try {
      const resp = await fetch(form.action, {
        method: "POST",
        credentials: "same-origin",
        headers: {
          "X-Requested-With": "fetch",
          "X-CSRF-Token": csrf,
          Accept: "application/json",
          "Content-Type": "application/x-www-form-urlencoded;charset=UTF-8",
        },
        body: new URLSearchParams(new FormData(form)),
      });
      if (toLogin(resp)) return;
      let body = {};
      try {
        body = await resp.json();
      } catch (e) {
        body = {};
      }
      if (!resp.ok) {
        showError(form, body.error || "操作失败（HTTP " + resp.status + "）");
        return;
      }
      if (mode === "reset") {
        form.reset();
        deliveryChanged();
        // A first reply acknowledges the customer's new cases: refresh the panel, not the page
        // (a reload would drop the live stream for a moment and could miss a customer message).
        const panel = document.getElementById("cases-panel");
        if (panel && body.acknowledged && body.acknowledged.length) {
          const fresh = await getHtml(panel.dataset.fragment);
          if (fresh !== null) panel.innerHTML = fresh;
        }
      } else window.location.reload();
    } catch (e) {
      showError(form, "网络错误，请重试。");
    } finally {
      if (button) button.disabled = false;
    }
  });

  document.addEventListener("DOMContentLoaded", function () {
    const panel = document.getElementById("queue-panels");
    if (panel) queuePage(panel);
    const main = document.getElementById("conversation");
    if (main) conversationPage(main);
  });
})();
