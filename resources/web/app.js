// Xtalk browser client: login, sessions, microphone capture (AudioWorklet, 16 kHz PCM16),
// reply playback with barge-in, transcript, latency metrics, the user's document library
// and remembered facts.
// No dependencies and no build step; the wire protocol is described in docs/protocol.md.

(() => {
  "use strict";

  const TOKEN_KEY = "xtalk.token";
  const USER_KEY = "xtalk.user";
  const SECTIONS_KEY = "xtalk.sections"; // which sidebar sections are open (localStorage)
  const NARROW_QUERY = "(max-width: 720px)";
  const SVG_NS = "http://www.w3.org/2000/svg";
  const TRASH_ICON = "M9 3h6l1 2h4v2H4V5h4l1-2zm-3 6h12l-1 12H7L6 9zm4 2v8h1.5v-8H10zm3.5 0v8H15v-8h-1.5z";
  const TARGET_RATE = 16000;
  const FRAME_SAMPLES = 512;
  const DEFAULT_OUTPUT_RATE = 48000;
  const MAX_BUFFERED_BYTES = 1 << 20; // drop microphone frames rather than queue seconds
  const UPLOAD_TYPES = {
    txt: "text/plain", text: "text/plain", md: "text/markdown", markdown: "text/markdown",
    pdf: "application/pdf",
  };
  const STATE_LABELS = {
    offline: "offline", connecting: "connecting…", queued: "waiting in line", ready: "ready",
    listening: "listening", hearing: "hearing you", thinking: "thinking", speaking: "speaking",
    error: "error",
  };
  const CLOSE_MESSAGES = {
    4400: "The server refused the connection request.",
    4401: "Please sign in again.",
    4403: "The server does not accept connections from this page.",
    4404: "That conversation no longer exists.",
    4409: "This conversation is open in another window or tab.",
    4408: "The connection was idle for too long and was closed; it reconnects when you continue.",
    4429: "Too many messages were sent; the server closed the connection.",
    4430: "You have too many conversations open; close one and try again.",
    1009: "A message was too large for the server.",
    1013: "The connection was too slow to keep up and was closed.",
  };
  // The latency footer (docs/protocol.md, latency_metrics): end-to-end split into
  // consecutive stages that add up to it. The server's llm_sentence_ms (generation →
  // first audio) is first token + first audio again, so it is not shown on its own.
  const METRIC_STAGES = [
    // [field, label, tooltip, spoken turns only]
    ["endpoint_ms", "end of speech", "Waiting to be sure you had finished speaking", true],
    ["asr_ms", "recognition", "Turning your speech into the final transcript", true],
    ["llm_first_token_ms", "first token", "The language model's first words", false],
    ["tts_first_chunk_ms", "first audio",
     "From the first words to the first sentence's audio (its text and its synthesis)", false],
  ];
  const METRIC_OTHER = ["other", "Everything between the stages: preparing the request " +
                        "(history, documents, memory) and sending the first audio"];

  const $ = (id) => document.getElementById(id);

  // Counters and logs for tests and troubleshooting (read-only for the page itself).
  const debug = {
    state: "offline", authRequired: null, sessionId: null, connected: false,
    messages: {}, framesSent: 0, bytesSent: 0, micRate: null,
    chunksReceived: 0, chunksPlayed: 0, chunksDropped: 0, playbackFinishedSent: 0,
    transcripts: [], replies: [], errors: [], lastMetrics: null, attachRetries: 0,
    libraryLoads: 0, memoryLoads: 0,
  };
  window.xtalkDebug = debug;

  class UserError extends Error {
    constructor(message, code, status) {
      super(message);
      this.code = code;
      this.status = status;
    }
  }
  class AuthError extends UserError {}

  const app = {
    token: sessionStorage.getItem(TOKEN_KEY),
    username: sessionStorage.getItem(USER_KEY) || "",
    ws: null,
    ready: null, // promise: resolved with the session id on session_info
    connected: false,
    queued: false,
    queuePosition: null,
    closed: null,
    lost: false, // the last connection ended unexpectedly (the pill says "offline" then)
    sessionId: null,
    sessionHasContent: false,
    sessions: [],
    documents: [],
    uploads: [], // names of the documents being uploaded
    facts: [],
    knowledge: 0, // bumped on sign-out: answers to older requests are not shown
    mic: null,
    micStarting: false,
    turns: new Map(),
    pendingText: null, // the bubble of a typed message waiting for its turn id
    hearingTurn: null,
    thinkingTurn: null,
    errorUntil: 0,
    lastErrorAt: 0,
    meta: null,
  };

  // ------------------------------------------------------------------ utilities
  function el(tag, className, text) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined) node.textContent = text;
    return node;
  }

  function safeText(value, fallback) {
    if (typeof value !== "string") return fallback;
    const text = value.trim();
    if (!text || text.length > 400 || /Traceback|^\s*[{[]/.test(text)) return fallback;
    return text;
  }

  function formatDate(value) {
    const date = new Date(value);
    if (Number.isNaN(date.getTime())) return "";
    const today = new Date();
    const sameDay = date.toDateString() === today.toDateString();
    return sameDay
      ? date.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" })
      : date.toLocaleDateString([], { month: "short", day: "numeric" });
  }

  // ------------------------------------------------------------------ banner / state
  let bannerTimer = null;

  function showError(message, { transient = true } = {}) {
    const text = safeText(message, "Something went wrong.");
    debug.errors.push(text);
    app.lastErrorAt = Date.now();
    $("banner-text").textContent = text;
    $("banner").hidden = false;
    clearTimeout(bannerTimer);
    if (transient) bannerTimer = setTimeout(hideBanner, 8000);
    app.errorUntil = Date.now() + 3000;
    refreshState();
    setTimeout(refreshState, 3100);
  }

  function hideBanner() {
    $("banner").hidden = true;
  }

  function refreshState() {
    let state;
    if (Date.now() < app.errorUntil) state = "error";
    else if (!app.ws) state = "offline";
    else if (app.queued) state = "queued";
    else if (!app.connected) state = "connecting";
    else if (app.hearingTurn !== null) state = "hearing";
    else if (player.playing) state = "speaking";
    else if (app.thinkingTurn !== null) state = "thinking";
    else if (app.mic) state = "listening";
    else state = "ready";
    debug.state = state;
    const box = $("state");
    // Before a session connects there is nothing to be offline from: no pill (nor on the
    // sign-in page); "offline" only after a connection was lost.
    box.hidden = !$("login-view").hidden || (state === "offline" && !app.lost);
    box.dataset.state = state;
    box.className = `state state-${state}`;
    $("state-label").textContent = state === "queued" && app.queuePosition
      ? `waiting in line (${app.queuePosition})` : STATE_LABELS[state];
  }

  // ------------------------------------------------------------------ HTTP API
  async function errorText(response) {
    let detail = null;
    try {
      const body = await response.json();
      detail = body && body.detail;
    } catch (_) {
      detail = null;
    }
    const byStatus = {
      400: "The request was not accepted.", 401: "Please sign in.",
      403: "The server refused this request.", 404: "Not found.",
      413: "The document is too large.", 415: "This kind of document is not supported.",
      422: "Some of the information sent was not valid.",
      429: "Too many attempts; please wait a moment and try again.",
    };
    const fallback = byStatus[response.status] ||
      (response.status >= 500 ? "The server had a problem; please try again."
                              : "The request failed.");
    return safeText(detail, fallback);
  }

  async function api(path, { method = "GET", body, headers = {} } = {}) {
    const all = { ...headers };
    if (app.token) all.Authorization = `Bearer ${app.token}`;
    let response;
    try {
      response = await fetch(path, { method, body, headers: all, cache: "no-store" });
    } catch (_) {
      throw new UserError("The server cannot be reached.");
    }
    if (response.status === 401) {
      debug.authRequired = true;
      throw new AuthError(await errorText(response), undefined, 401);
    }
    if (!response.ok) {
      throw new UserError(await errorText(response), undefined, response.status);
    }
    return response.status === 204 ? null : response.json();
  }

  // ------------------------------------------------------------------ login
  function showLogin(message) {
    $("app-view").hidden = true;
    $("login-view").hidden = false;
    $("logout").hidden = true;
    $("user-name").textContent = "";
    const error = $("login-error");
    error.hidden = !message;
    error.textContent = message || "";
    app.lost = false;
    refreshState();
    setTimeout(() => $("login-username").focus(), 0);
  }

  function showApp() {
    $("login-view").hidden = true;
    $("app-view").hidden = false;
    $("logout").hidden = !app.token;
    $("user-name").textContent = app.username;
    refreshState();
  }

  function forgetToken() {
    app.token = null;
    sessionStorage.removeItem(TOKEN_KEY);
  }

  async function onLogin(event) {
    event.preventDefault();
    const username = $("login-username").value.trim();
    const password = $("login-password").value;
    const submit = $("login-submit");
    $("login-error").hidden = true;
    submit.disabled = true;
    try {
      let response;
      try {
        response = await fetch("/api/auth/login", {
          method: "POST", cache: "no-store",
          headers: { "Content-Type": "application/json" },
          body: JSON.stringify({ username, password }),
        });
      } catch (_) {
        throw new UserError("The server cannot be reached.");
      }
      if (!response.ok) {
        throw new UserError(response.status === 401
          ? "Wrong username or password." : await errorText(response));
      }
      const data = await response.json();
      app.token = data.token;
      app.username = (data.user && data.user.username) || username;
      sessionStorage.setItem(TOKEN_KEY, app.token);
      sessionStorage.setItem(USER_KEY, app.username);
      $("login-password").value = "";
      showApp();
      await Promise.all([loadSessions(), loadLibrary(), loadMemory()]);
    } catch (error) {
      const box = $("login-error");
      box.textContent = error instanceof UserError ? error.message : "Sign-in failed.";
      box.hidden = false;
    } finally {
      submit.disabled = false;
    }
  }

  async function onLogout() {
    if (app.token) {
      try {
        await api("/api/auth/logout", { method: "POST" });
      } catch (_) {
        // the token is dropped either way
      }
    }
    forgetToken();
    stopMic();
    await disconnect();
    clearTranscript();
    app.sessionId = null;
    clearKnowledge();
    showLogin();
  }

  function handleAuthLost() {
    const hadToken = Boolean(app.token);
    forgetToken();
    clearKnowledge();
    stopMic();
    disconnect();
    showLogin(hadToken ? "Your sign-in has expired; please sign in again." : "");
  }

  // ------------------------------------------------------------------ sessions
  async function loadSessions() {
    if (!$("login-view").hidden) return; // signed out meanwhile
    const epoch = app.knowledge;
    try {
      const sessions = await api("/api/sessions");
      if (epoch !== app.knowledge) return;
      app.sessions = Array.isArray(sessions) ? sessions : [];
      renderSessions();
    } catch (error) {
      if (epoch !== app.knowledge) return;
      if (error instanceof AuthError) handleAuthLost();
      else showError(error.message);
    }
  }

  // The server stores a message in the background once it is said (the user's) or heard
  // (the reply's): the list is read again shortly after, and once more a little later in
  // case the store was slow.
  let sessionsTimer = null;
  let sessionsLateTimer = null;
  function refreshSessionsSoon() {
    clearTimeout(sessionsTimer);
    clearTimeout(sessionsLateTimer);
    sessionsTimer = setTimeout(loadSessions, 700);
    sessionsLateTimer = setTimeout(loadSessions, 3000);
  }

  function renderSessions() {
    const list = $("session-list");
    const focused = document.activeElement;
    const keepFocus = focused && list.contains(focused) ? focused.dataset.id : null;
    list.replaceChildren();
    for (const session of app.sessions) {
      const item = el("li");
      const button = el("button", "session");
      button.type = "button";
      button.dataset.id = String(session.id);
      if (session.id === app.sessionId) {
        button.classList.add("active");
        button.setAttribute("aria-current", "true");
      }
      button.append(el("span", "session-title", session.title || "Conversation"));
      const count = session.message_count === 1 ? "1 message"
        : `${session.message_count} messages`;
      button.append(el("span", "session-meta", `${formatDate(session.updated_at)} · ${count}`));
      button.addEventListener("click", () => attachSession(session.id));
      item.append(button);
      list.append(item);
      if (keepFocus === String(session.id)) button.focus();
    }
    $("session-empty").hidden = app.sessions.length > 0;
    setCount("session-count", app.sessions.length);
  }

  // Switching conversations: the latest click wins (earlier switches stop at their next
  // step).
  let navigation = 0;

  async function attachSession(sessionId) {
    player.unlock();
    if (sessionId === app.sessionId && app.ws) return;
    const nav = ++navigation;
    await disconnect();
    if (nav !== navigation) return;
    clearTranscript();
    app.sessionId = sessionId;
    app.sessionHasContent = true;
    renderSessions();
    for (let attempt = 0; ; attempt++) {
      try {
        await connect(sessionId);
        return;
      } catch (error) {
        if (nav !== navigation || app.ws) return;
        // Just left by this page: the server may still be closing it for a moment.
        if (error.code === 4409 && attempt < 5) {
          debug.attachRetries += 1;
          await new Promise((resolve) => setTimeout(resolve, 300));
          if (nav !== navigation || app.ws) return;
          continue;
        }
        showError(error.message);
        if (error.code === 4404) loadSessions();
        return;
      }
    }
  }

  async function newConversation() {
    player.unlock();
    const nav = ++navigation;
    await disconnect();
    if (nav !== navigation) return;
    clearTranscript();
    app.sessionId = null;
    app.sessionHasContent = false;
    renderSessions();
    if (app.mic) {
      try {
        await connect(null);
      } catch (error) {
        if (nav === navigation && !app.ws) showError(error.message);
      }
    }
  }

  // ------------------------------------------------------------------ WebSocket
  function wsUrl(sessionId) {
    const scheme = location.protocol === "https:" ? "wss:" : "ws:";
    const query = new URLSearchParams();
    if (app.token) query.set("token", app.token);
    if (sessionId) query.set("session_id", sessionId);
    const qs = query.toString();
    return `${scheme}//${location.host}/ws${qs ? `?${qs}` : ""}`;
  }

  function connect(sessionId) {
    if (app.ws) return app.ready;
    let ws;
    try {
      ws = new WebSocket(wsUrl(sessionId));
    } catch (_) {
      return Promise.reject(new UserError("Cannot open a connection to the server."));
    }
    ws.binaryType = "arraybuffer";
    app.ws = ws;
    app.lost = false;
    app.connected = false;
    app.queued = false;
    app.closed = new Promise((resolve) => ws.addEventListener("close", resolve));
    app.ready = new Promise((resolve, reject) => {
      ws.addEventListener("message", (event) => {
        if (app.ws !== ws) return;
        if (typeof event.data === "string") onText(event.data, resolve);
        else onAudio(event.data);
      });
      ws.addEventListener("close", (event) => {
        if (app.ws !== ws) return;
        onClose(event);
        reject(new UserError(CLOSE_MESSAGES[event.code] ||
          "The connection to the server was lost.", event.code));
      });
    });
    app.ready.catch(() => {}); // observed by callers that await it
    refreshState();
    return app.ready;
  }

  async function ensureConnected() {
    if (app.ws) return app.ready;
    const resume = app.sessionHasContent ? app.sessionId : null;
    try {
      return await connect(resume);
    } catch (error) {
      if (resume && !app.ws) {
        app.sessionId = null; // the stored session is gone: start a new one
        app.sessionHasContent = false;
        return connect(null);
      }
      throw error;
    }
  }

  async function disconnect() {
    const ws = app.ws;
    const closed = app.closed;
    resetConnection();
    if (ws) {
      try {
        ws.close(1000, "client closed");
      } catch (_) {
        // already closed
      }
      await Promise.race([closed, new Promise((r) => setTimeout(r, 2000))]);
    }
    refreshState();
  }

  function resetConnection() {
    app.ws = null;
    app.ready = null;
    app.connected = false;
    app.queued = false;
    app.hearingTurn = null;
    app.thinkingTurn = null;
    app.meta = null;
    debug.connected = false;
    debug.sessionId = null;
    player.stop();
    player.finishPending = false;
  }

  function onClose(event) {
    resetConnection();
    if (event.code === 4401) {
      handleAuthLost();
      return;
    }
    if (event.code === 4409 || event.code === 4404) return; // the caller retries / explains
    stopMic();
    app.lost = event.code !== 1000;
    if (event.code !== 1000 && Date.now() - app.lastErrorAt > 1500) {
      showError(CLOSE_MESSAGES[event.code] || "The connection to the server was lost.");
    }
    refreshState();
  }

  function send(action, data) {
    const ws = app.ws;
    if (!ws || ws.readyState !== WebSocket.OPEN) return false;
    ws.send(JSON.stringify({ action, data: data || {} }));
    return true;
  }

  function onText(text, resolveReady) {
    let message;
    try {
      message = JSON.parse(text);
    } catch (_) {
      return; // not JSON: ignored
    }
    if (!message || typeof message !== "object") return;
    const action = message.action || message.type;
    if (typeof action !== "string") return;
    let data = message.data;
    if (!data || typeof data !== "object") {
      data = { ...message };
      delete data.action;
      delete data.type;
    }
    debug.messages[action] = (debug.messages[action] || 0) + 1;
    const handler = handlers[action];
    if (handler) handler(data, resolveReady);
  }

  const handlers = {
    session_info(data, resolveReady) {
      app.sessionId = data.session_id;
      debug.sessionId = data.session_id;
      app.connected = true;
      app.queued = false;
      debug.connected = true;
      resolveReady(data.session_id);
      send("ping", { timestamp: Date.now() });
      renderSessions();
      refreshSessionsSoon();
      refreshState();
    },
    session_attached(data) {
      const messages = Array.isArray(data.messages) ? data.messages : [];
      for (const message of messages) {
        if (message.role !== "user" && message.role !== "assistant") continue;
        const bubble = addBubble(message.role, String(message.content || ""), "history");
        if (message.interrupted) bubble.classList.add("interrupted");
      }
      if (messages.length) app.sessionHasContent = true;
    },
    queue_status(data) {
      app.queued = true;
      const position = Number(data.position);
      app.queuePosition = Number.isFinite(position) ? position : null;
      refreshState();
    },
    queue_granted() {
      app.queued = false;
      refreshState();
    },
    pong(data) {
      const sent = Number(data.client_timestamp);
      const server = Number(data.server_recv_timestamp);
      if (!Number.isFinite(sent) || !Number.isFinite(server)) return;
      send("clock_sync", {
        client_send_ts: sent / 1000, server_recv_ts: server / 1000,
        client_recv_ts: Date.now() / 1000,
      });
    },
    update_asr(data) {
      const turn = getTurn(data.turn_id);
      turn.spoken = true;
      if (!turn.userFinal) setUserText(turn, String(data.text || ""), false);
      app.hearingTurn = data.turn_id;
      refreshState();
    },
    finish_asr(data) {
      const turn = getTurn(data.turn_id);
      turn.spoken = true;
      const text = String(data.text || "");
      setUserText(turn, text, true);
      debug.transcripts.push(text);
      app.sessionHasContent = true;
      if (app.hearingTurn === data.turn_id) app.hearingTurn = null;
      app.thinkingTurn = data.turn_id;
      refreshState();
    },
    backchannel(data) {
      // "mm-hmm" while the assistant spoke: no request, the reply goes on
      const turn = app.turns.get(data.turn_id);
      if (turn && turn.user) turn.user.classList.add("backchannel");
      if (app.thinkingTurn === data.turn_id) app.thinkingTurn = null;
      refreshState();
    },
    turn_merged(data) {
      // the user went on after a pause: the earlier turn and its reply are withdrawn
      const turn = app.turns.get(data.turn_id);
      if (!turn) return;
      for (const node of [turn.user, turn.assistant, ...turn.extras]) if (node) node.remove();
      turn.stopped = true;
      turn.user = turn.assistant = null;
      turn.extras = [];
      if (app.thinkingTurn === data.turn_id) app.thinkingTurn = data.into_turn_id;
      const whole = String(data.text || "");
      if (whole) setUserText(getTurn(data.into_turn_id), whole, true);
      refreshState();
    },
    invalid_asr_result(data) {
      const turn = app.turns.get(data.turn_id);
      if (turn && turn.user && !turn.userFinal) {
        turn.user.remove();
        turn.user = null;
      }
      if (app.hearingTurn === data.turn_id) app.hearingTurn = null;
      refreshState();
    },
    update_resp(data) {
      const turn = getTurn(data.turn_id);
      if (turn.stopped) return;
      if (app.thinkingTurn === -1) app.thinkingTurn = data.turn_id; // reply to typed text
      setAssistantText(turn, String(data.text || ""), false);
    },
    finish_resp(data) {
      const turn = getTurn(data.turn_id);
      if (turn.stopped) return;
      const text = String(data.text || "");
      setAssistantText(turn, text, true);
      debug.replies.push(text);
      refreshSessionsSoon(); // the user's message is stored by now (the reply once heard)
      refreshMemorySoon(); // "remember that …" said to the assistant
    },
    tool_called(data) {
      const turn = getTurn(data.turn_id);
      const details = el("details", "tool-call");
      const name = safeText(data.name, "a tool");
      details.append(el("summary", null, `used ${name}`));
      let args = "";
      try {
        args = JSON.stringify(data.args ?? {}, null, 1);
      } catch (_) {
        args = "";
      }
      if (args && args !== "{}") details.append(el("pre", null, args.slice(0, 2000)));
      insertInTurn(turn, details);
    },
    start_tts(data) {
      player.start(data.turn_id);
    },
    pause_tts() {
      player.pause();
      refreshState();
    },
    resume_tts() {
      player.resume();
      refreshState();
    },
    stop_tts(data) {
      player.stop(data.turn_id);
      const turn = app.turns.get(data.turn_id);
      if (turn) {
        turn.stopped = true;
        if (turn.assistant) {
          turn.assistant.classList.add("interrupted");
          refreshSessionsSoon(); // what was heard of it is stored
        }
      }
      if (app.thinkingTurn === data.turn_id) app.thinkingTurn = null;
      refreshState();
    },
    tts_chunk_meta(data) {
      app.meta = data;
    },
    tts_finished(data) {
      if (app.thinkingTurn === data.turn_id) app.thinkingTurn = null;
      player.finished();
      refreshState();
    },
    latency_metrics(data) {
      debug.lastMetrics = data;
      // A typed turn has no speech to end or recognise (the server sends 0 for those).
      const turn = app.turns.get(data.turn_id);
      renderMetrics(data, Boolean(turn && turn.spoken));
    },
    error(data) {
      // Refusals the close handlers deal with (sign-in again, retry, fall back).
      if (["unauthorized", "session_in_use", "session_not_found"].includes(data.code)) return;
      showError(safeText(data.message, "The server reported a problem."));
    },
  };

  function onAudio(buffer) {
    const meta = app.meta || {};
    app.meta = null;
    debug.chunksReceived += 1;
    if (buffer.byteLength < 2) return;
    const turn = app.turns.get(meta.turn_id);
    if (turn && turn.stopped) return;
    if (app.thinkingTurn === meta.turn_id) app.thinkingTurn = null;
    player.enqueue(meta, buffer);
    refreshState();
  }

  // ------------------------------------------------------------------ transcript
  function clearTranscript() {
    app.turns.clear();
    app.pendingText = null;
    const box = $("transcript");
    box.replaceChildren($("transcript-empty"));
    $("transcript-empty").hidden = false;
    $("metrics").hidden = true;
  }

  function getTurn(turnId) {
    let turn = app.turns.get(turnId);
    if (!turn) {
      turn = { id: turnId, user: null, userFinal: false, assistant: null, extras: [],
               stopped: false, spoken: false };
      app.turns.set(turnId, turn);
    }
    return turn;
  }

  function addBubble(role, text, extraClass) {
    $("transcript-empty").hidden = true;
    const row = el("div", `message ${role}${extraClass ? ` ${extraClass}` : ""}`);
    row.append(el("div", "who", role === "user" ? "You" : "Assistant"));
    row.append(el("div", "text", text));
    $("transcript").append(row);
    scrollDown();
    return row;
  }

  function scrollDown() {
    const box = $("transcript");
    box.scrollTop = box.scrollHeight;
  }

  function setUserText(turn, text, final) {
    if (!turn.user) {
      if (app.pendingText && final) {
        turn.user = app.pendingText;
        app.pendingText = null;
      } else {
        turn.user = addBubble("user", "", "partial");
      }
    }
    turn.user.querySelector(".text").textContent = text || "…";
    turn.user.classList.toggle("partial", !final);
    turn.userFinal = final;
    scrollDown();
  }

  function setAssistantText(turn, text, final) {
    if (!turn.assistant) {
      if (!turn.user && app.pendingText) { // the reply to a typed message
        turn.user = app.pendingText;
        turn.userFinal = true;
        app.pendingText = null;
      }
      turn.assistant = addBubble("assistant", "", "streaming");
      for (const extra of turn.extras) turn.assistant.append(extra);
    }
    turn.assistant.querySelector(".text").textContent = text;
    turn.assistant.classList.toggle("streaming", !final);
    scrollDown();
  }

  function insertInTurn(turn, node) {
    if (turn.assistant) turn.assistant.append(node);
    else turn.extras.push(node);
    scrollDown();
  }

  function metricFigure(key, label, ms, title, kind) {
    const item = el("span", `metric metric-${kind}`);
    if (key) item.dataset.key = key;
    item.dataset.ms = String(ms);
    if (title) item.title = title;
    item.append(el("span", "metric-label", `${label} `), el("b", null, `${ms} ms`));
    return item;
  }

  // "=", "+", "·" after a figure, inside it: a wrapped line ends with the sign.
  function metricSign(item, text) {
    const sign = el("span", "metric-sign", text);
    sign.setAttribute("aria-hidden", "true");
    item.append(sign);
  }

  // The stages a turn went through, as consecutive segments that add up to the end-to-end
  // figure: each segment is the difference of rounded cumulative times, so the rounded
  // figures add up exactly.
  function renderMetrics(data, spoken) {
    const value = (key) => {
      const n = Number(data[key]);
      return data[key] === null || data[key] === undefined || !Number.isFinite(n) ? null
        : Math.max(0, n);
    };
    const total = value("e2e_ms");
    if (total === null) return;
    let stages = METRIC_STAGES.filter(([key, , , speechOnly]) =>
      (spoken || !speechOnly) && value(key) !== null);
    const asides = [];
    const sum = stages.reduce((acc, [key]) => acc + value(key), 0);
    const saved = value("speculation_saved_ms") || 0;
    // A reply prepared while the user paused (speculative): its model and synthesis
    // stages ran during the end of speech, so they are shown apart, not in the sum.
    const overlapped = saved > 0 || sum > total + 1;
    if (overlapped) {
      const generation = stages.filter(([, , , speechOnly]) => !speechOnly);
      stages = stages.filter(([, , , speechOnly]) => speechOnly);
      const figures = generation.map(([key, label]) => [label, value(key)]);
      if (saved > 0) figures.push(["saved", saved]);
      const prepared = el("span", "metric metric-aside", "prepared while you paused: ");
      figures.forEach(([label, ms], index) => {
        const figure = el("span", "metric-figure", `${label} `);
        figure.append(el("b", null, `${Math.round(ms)} ms`));
        if (index < figures.length - 1) figure.append(",");
        prepared.append(figure, index < figures.length - 1 ? " " : "");
      });
      prepared.dataset.key = "speculation_saved_ms";
      prepared.title = "The reply was prepared during your pause (these stages overlapped " +
        "the end of speech); saved: how much sooner it was ready";
      asides.push(prepared);
    }
    const box = $("metrics-values");
    const items = [metricFigure("e2e_ms", "end-to-end", Math.round(total),
      spoken ? "From the end of your speech to the first words of the reply"
             : "From your message to the first words of the reply", "total")];
    let at = 0;
    let shown = 0;
    const parts = [];
    const addPart = (key, label, ms, title) => {
      at = Math.min(total, at + ms);
      const rounded = Math.round(at);
      parts.push(metricFigure(key, label, rounded - shown, title, "part"));
      shown = rounded;
    };
    for (const [key, label, title] of stages) addPart(key, label, value(key), title);
    if (Math.round(total) > shown || !parts.length) {
      const [label, title] = overlapped
        ? ["reply", "From the final transcript to the first audio of the prepared reply"]
        : METRIC_OTHER;
      addPart(label, label, total - at, title);
    }
    metricSign(items[0], "=");
    parts.forEach((part, index) => {
      if (index < parts.length - 1) metricSign(part, "+");
      items.push(part);
    });
    const cue = value("cue_ms");
    if (cue !== null && cue > 0) {
      asides.push(metricFigure("cue_ms", "“hmm” after", Math.round(cue),
        "The model was slow to begin: a short “hmm” filled the wait from this moment",
        "aside"));
    }
    const network = value("network_ms");
    if (network !== null && network > 0) {
      asides.push(metricFigure("network_ms", "network", Math.round(network),
        "Between this browser and the server, each way (not included above)", "aside"));
    }
    for (const aside of asides) {
      metricSign(items[items.length - 1], "·");
      items.push(aside);
    }
    box.replaceChildren(...items);
    $("metrics").dataset.turn = String(data.turn_id);
    $("metrics").hidden = false;
  }

  // ------------------------------------------------------------------ playback
  // Reply audio: each chunk becomes an AudioBuffer at the rate the server announced and is
  // scheduled right after the previous one. Pausing suspends the playback context (the
  // microphone has its own context and keeps running); stopping drops every queued chunk.
  const player = {
    ctx: null,
    playhead: 0,
    active: new Set(),
    paused: false,
    finishPending: false,

    get playing() {
      return this.active.size > 0 && !this.paused;
    },

    context() {
      if (!this.ctx) {
        const Ctx = window.AudioContext || window.webkitAudioContext;
        if (!Ctx) return null;
        this.ctx = new Ctx({ latencyHint: "interactive" });
      }
      return this.ctx;
    },

    // Call from user gestures: browsers only start audio after one.
    unlock() {
      const ctx = this.context();
      if (ctx && ctx.state === "suspended" && !this.paused) ctx.resume().catch(() => {});
    },

    start() {
      this.paused = false;
      this.unlock();
    },

    enqueue(meta, buffer) {
      const ctx = this.context();
      if (!ctx) return;
      const samples = new Int16Array(buffer, 0, buffer.byteLength >> 1);
      const rate = Number(meta.sample_rate) > 0 ? Number(meta.sample_rate) : DEFAULT_OUTPUT_RATE;
      const audio = ctx.createBuffer(1, samples.length, rate);
      const channel = audio.getChannelData(0);
      for (let i = 0; i < samples.length; i++) channel[i] = samples[i] / 32768;
      const source = ctx.createBufferSource();
      source.buffer = audio;
      source.connect(ctx.destination);
      const when = Math.max(ctx.currentTime + 0.04, this.playhead);
      this.playhead = when + audio.duration;
      const entry = { source, index: meta.chunk_index, turn: meta.turn_id, dropped: false };
      this.active.add(entry);
      source.onended = () => {
        if (entry.dropped) return;
        this.active.delete(entry);
        debug.chunksPlayed += 1;
        if (Number.isInteger(entry.index)) {
          send("tts_chunk_played", { chunk_index: entry.index, turn_id: entry.turn });
        }
        this.checkDrained();
        refreshState();
      };
      source.start(when);
      if (ctx.state === "suspended" && !this.paused) ctx.resume().catch(() => {});
    },

    pause() {
      this.paused = true;
      if (this.ctx && this.ctx.state === "running") this.ctx.suspend().catch(() => {});
    },

    resume() {
      this.paused = false;
      if (this.ctx && this.ctx.state === "suspended") this.ctx.resume().catch(() => {});
    },

    stop() {
      for (const entry of this.active) {
        entry.dropped = true;
        debug.chunksDropped += 1;
        try {
          entry.source.stop();
        } catch (_) {
          // not started yet
        }
      }
      this.active.clear();
      this.playhead = 0;
      if (this.paused) this.resume();
      this.checkDrained();
    },

    finished() {
      this.finishPending = true;
      this.checkDrained();
    },

    checkDrained() {
      if (!this.finishPending || this.active.size > 0) return;
      this.finishPending = false;
      if (send("tts_playback_finished", { timestamp: Date.now() })) {
        debug.playbackFinishedSent += 1;
        refreshSessionsSoon(); // the reply was heard: the server stores it now
      }
    },
  };

  // ------------------------------------------------------------------ microphone
  function setMicUi(on) {
    const button = $("mic");
    button.classList.toggle("on", on);
    button.setAttribute("aria-pressed", on ? "true" : "false");
    const label = on ? "Stop the microphone" : "Start the microphone";
    button.title = label;
    $("mic-label").textContent = label;
    if (!on) button.style.setProperty("--level", "0");
  }

  async function startMic() {
    if (app.mic || app.micStarting) return;
    if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia || !window.AudioWorkletNode) {
      showError("This browser cannot record audio here. Open the page over https or on " +
                "localhost in a current browser.", { transient: false });
      return;
    }
    app.micStarting = true;
    player.unlock();
    // Created inside the click so that the browser lets it run.
    const ctx = new AudioContext({ latencyHint: "interactive" });
    let stream = null;
    try {
      stream = await navigator.mediaDevices.getUserMedia({
        audio: { channelCount: 1, echoCancellation: true, noiseSuppression: true,
                 autoGainControl: true },
      });
      await ctx.audioWorklet.addModule("audio-worklet.js");
      const source = ctx.createMediaStreamSource(stream);
      const node = new AudioWorkletNode(ctx, "xtalk-pcm16-capture", {
        numberOfInputs: 1, numberOfOutputs: 0, channelCount: 1,
        channelCountMode: "explicit", channelInterpretation: "speakers",
        processorOptions: { targetRate: TARGET_RATE, frameSamples: FRAME_SAMPLES },
      });
      node.port.onmessage = (event) => onFrame(event.data);
      source.connect(node);
      await ctx.resume();
      app.mic = { ctx, stream, source, node };
      debug.micRate = ctx.sampleRate;
      for (const track of stream.getAudioTracks()) {
        track.addEventListener("ended", () => {
          if (app.mic && app.mic.stream === stream) {
            stopMic();
            showError("The microphone was disconnected.");
          }
        });
      }
      setMicUi(true);
      refreshState();
    } catch (error) {
      if (stream) for (const track of stream.getTracks()) track.stop();
      ctx.close().catch(() => {});
      app.micStarting = false;
      const name = error && error.name;
      if (name === "NotAllowedError" || name === "SecurityError") {
        showError("Microphone access was refused. Allow it in the browser to talk.",
                  { transient: false });
      } else if (name === "NotFoundError" || name === "OverconstrainedError") {
        showError("No microphone was found.", { transient: false });
      } else {
        showError("The microphone could not be started.");
      }
      return;
    }
    app.micStarting = false;
    try {
      await ensureConnected();
    } catch (error) {
      showError(error.message);
    }
  }

  function stopMic() {
    const mic = app.mic;
    if (!mic) return;
    app.mic = null;
    if (app.hearingTurn !== null) {
      send("vad_speech_end", { timestamp: Date.now(), reason: "muted" });
    }
    try {
      mic.node.port.postMessage({ type: "stop" });
      mic.source.disconnect();
    } catch (_) {
      // already torn down
    }
    for (const track of mic.stream.getTracks()) track.stop();
    mic.ctx.close().catch(() => {});
    setMicUi(false);
    refreshState();
  }

  let levelShown = 0;
  function onFrame(data) {
    if (!data || !(data.pcm instanceof ArrayBuffer)) return;
    const level = Math.min(1, Math.sqrt(Number(data.level) || 0) * 2.5);
    levelShown = Math.max(level, levelShown * 0.8);
    $("mic").style.setProperty("--level", levelShown.toFixed(3));
    const ws = app.ws;
    if (!ws || !app.connected || ws.readyState !== WebSocket.OPEN) return;
    if (ws.bufferedAmount > MAX_BUFFERED_BYTES) return;
    ws.send(data.pcm);
    debug.framesSent += 1;
    debug.bytesSent += data.pcm.byteLength;
  }

  // ------------------------------------------------------------------ typed text
  async function onSendText(event) {
    event.preventDefault();
    const input = $("text-input");
    const text = input.value.trim();
    if (!text) return;
    player.unlock();
    try {
      await ensureConnected();
    } catch (error) {
      showError(error.message);
      return;
    }
    if (!send("text_input", { text })) {
      showError("Not connected to the server.");
      return;
    }
    input.value = "";
    app.pendingText = addBubble("user", text);
    app.sessionHasContent = true;
    app.thinkingTurn = -1;
    refreshState();
  }

  // ------------------------------------------------------------------ sidebar sections
  // Collapsible (a heading with a disclosure button, as in the WAI-ARIA accordion pattern);
  // what the user opened or closed is kept, otherwise small screens start with only the
  // conversations open.
  function sectionPrefs() {
    try {
      const prefs = JSON.parse(localStorage.getItem(SECTIONS_KEY) || "{}");
      return prefs && typeof prefs === "object" ? prefs : {};
    } catch (_) {
      return {};
    }
  }

  function setSectionOpen(section, open) {
    const toggle = section.querySelector(".section-toggle");
    toggle.setAttribute("aria-expanded", open ? "true" : "false");
    $(toggle.getAttribute("aria-controls")).hidden = !open;
    section.classList.toggle("collapsed", !open);
  }

  function initSections() {
    const prefs = sectionPrefs();
    const narrow = window.matchMedia && window.matchMedia(NARROW_QUERY).matches;
    for (const section of document.querySelectorAll(".sidebar .section")) {
      const name = section.dataset.section;
      const open = typeof prefs[name] === "boolean" ? prefs[name]
        : !narrow || name === "conversations";
      setSectionOpen(section, open);
      section.querySelector(".section-toggle").addEventListener("click", () => {
        const nowOpen = section.classList.contains("collapsed");
        setSectionOpen(section, nowOpen);
        const saved = sectionPrefs();
        saved[name] = nowOpen;
        try {
          localStorage.setItem(SECTIONS_KEY, JSON.stringify(saved));
        } catch (_) {
          // private mode: not kept
        }
      });
    }
  }

  function setCount(id, count) {
    $(id).textContent = count ? String(count) : "";
  }

  function announce(text) {
    const status = $("sidebar-status");
    status.textContent = "";
    setTimeout(() => { status.textContent = text; }, 50);
  }

  function knowledgeError(error) {
    if (error instanceof AuthError) handleAuthLost();
    else showError(error.message);
  }

  function clearKnowledge() {
    app.knowledge += 1;
    clearTimeout(sessionsTimer);
    clearTimeout(sessionsLateTimer);
    clearTimeout(memoryTimer);
    app.sessions = [];
    renderSessions();
    app.documents = [];
    app.uploads = [];
    app.facts = [];
    renderLibrary();
    renderMemory();
  }

  function iconButton(label, onClick) {
    const button = el("button", "icon-button");
    button.type = "button";
    button.setAttribute("aria-label", label);
    button.title = label;
    const svg = document.createElementNS(SVG_NS, "svg");
    svg.setAttribute("viewBox", "0 0 24 24");
    svg.setAttribute("aria-hidden", "true");
    const path = document.createElementNS(SVG_NS, "path");
    path.setAttribute("d", TRASH_ICON);
    svg.append(path);
    button.append(svg);
    button.addEventListener("click", onClick);
    return button;
  }

  // After a row is removed, keep the keyboard focus in its list (or on the section).
  function focusAfterRemoval(listId, index, fallback) {
    const buttons = $(listId).querySelectorAll(".icon-button");
    const next = buttons[Math.min(index, buttons.length - 1)];
    (next || fallback).focus();
  }

  function formatSize(chars) {
    const n = Number(chars);
    if (!Number.isFinite(n) || n < 0) return "";
    if (n < 1000) return `${n} ${n === 1 ? "character" : "characters"}`;
    if (n < 1e6) return `${(n / 1000).toFixed(n < 1e4 ? 1 : 0)}k characters`;
    return `${(n / 1e6).toFixed(1)}M characters`;
  }

  // ------------------------------------------------------------------ document library
  // The user's documents, whichever conversation they were added in: every conversation
  // searches all of them.
  let libraryLoad = 0;

  async function loadLibrary() {
    const load = ++libraryLoad;
    const epoch = app.knowledge;
    try {
      const documents = await api("/api/library");
      if (load !== libraryLoad || epoch !== app.knowledge) return;
      app.documents = Array.isArray(documents) ? documents : [];
      debug.libraryLoads += 1;
      renderLibrary();
    } catch (error) {
      if (load === libraryLoad && epoch === app.knowledge) knowledgeError(error);
    }
  }

  function renderLibrary() {
    const list = $("document-list");
    const focused = document.activeElement;
    const keepFocus = focused && list.contains(focused) ? focused.dataset.id : null;
    list.replaceChildren();
    for (const name of app.uploads) {
      const item = el("li", "item pending");
      const main = el("div", "item-main");
      main.append(el("span", "item-title", name), el("span", "item-meta", "uploading…"));
      item.append(main);
      list.append(item);
    }
    const newestFirst = [...app.documents].sort((a, b) => Number(b.id) - Number(a.id));
    newestFirst.forEach((doc, index) => {
      const name = String(doc.name || "document");
      const item = el("li", "item document");
      item.dataset.id = String(doc.id);
      const main = el("div", "item-main");
      const title = el("span", "item-title", name);
      title.title = name;
      const size = el("span", "item-meta", [formatSize(doc.chars), formatDate(doc.created_at)]
        .filter(Boolean).join(" · "));
      if (Number.isFinite(Number(doc.chars))) {
        size.title = `${Number(doc.chars).toLocaleString()} characters`;
      }
      main.append(title, size);
      const remove = iconButton(`Delete ${name}`, () => deleteDocument(doc, index));
      remove.dataset.id = String(doc.id);
      item.append(main, remove);
      list.append(item);
      if (keepFocus === String(doc.id)) remove.focus();
    });
    $("document-empty").hidden = app.documents.length + app.uploads.length > 0;
    setCount("document-count", app.documents.length);
  }

  async function deleteDocument(doc, index) {
    const name = String(doc.name || "document");
    if (!window.confirm(`Delete “${name}”? The assistant will no longer use it in any ` +
                        "conversation.")) return;
    const epoch = app.knowledge;
    const button = $("document-list").querySelector(`.icon-button[data-id="${doc.id}"]`);
    if (button) button.disabled = true;
    try {
      await api(`/api/library/${encodeURIComponent(doc.id)}`, { method: "DELETE" });
    } catch (error) {
      if (!(error instanceof UserError && error.status === 404)) { // 404: already gone
        if (button) button.disabled = false;
        knowledgeError(error);
        return;
      }
    }
    if (epoch !== app.knowledge) return;
    app.documents = app.documents.filter((d) => d.id !== doc.id);
    renderLibrary();
    announce(`${name} deleted.`);
    focusAfterRemoval("document-list", index, $("upload-input"));
    loadLibrary();
  }

  function uploadType(file) {
    const ext = (file.name.split(".").pop() || "").toLowerCase();
    if (UPLOAD_TYPES[ext]) return UPLOAD_TYPES[ext];
    if (Object.values(UPLOAD_TYPES).includes(file.type)) return file.type;
    return null;
  }

  async function onUpload() {
    const input = $("upload-input");
    const file = input.files && input.files[0];
    input.value = "";
    if (!file) return;
    const type = uploadType(file);
    if (!type) {
      showError("Only text (.txt), markdown (.md) or PDF documents can be added.");
      return;
    }
    const epoch = app.knowledge;
    app.uploads.push(file.name);
    renderLibrary();
    // The conversation shown, when it exists on the server (not needed: the document
    // joins the library either way).
    const sessionId = app.sessionId && (app.connected || app.sessionHasContent)
      ? app.sessionId : null;
    const headers = {
      "Content-Type": type === "application/pdf" ? type : `${type}; charset=utf-8`,
    };
    try {
      let result;
      try {
        const query = new URLSearchParams({ filename: file.name });
        if (sessionId) query.set("session_id", sessionId);
        result = await api(`/api/upload?${query}`, { method: "POST", body: file, headers });
      } catch (error) {
        if (!sessionId || !(error instanceof UserError) || error.status !== 404) throw error;
        // the conversation is gone: the document goes to the library alone
        const query = new URLSearchParams({ filename: file.name });
        result = await api(`/api/upload?${query}`, { method: "POST", body: file, headers });
      }
      if (epoch !== app.knowledge) return;
      const doc = result && result.document;
      if (doc && !app.documents.some((d) => d.id === doc.id)) app.documents.push(doc);
      announce(`${file.name} added.`);
    } catch (error) {
      if (epoch === app.knowledge) knowledgeError(error);
    } finally {
      if (epoch === app.knowledge) {
        const at = app.uploads.indexOf(file.name);
        if (at >= 0) app.uploads.splice(at, 1);
        renderLibrary();
      }
    }
    if (epoch === app.knowledge) loadLibrary();
  }

  // ------------------------------------------------------------------ memory
  // What the assistant remembers about the user: added here or by voice ("remember that
  // …"), so the list is read again after each reply.
  let memoryLoad = 0;

  async function loadMemory() {
    const load = ++memoryLoad;
    const epoch = app.knowledge;
    try {
      const facts = await api("/api/memory");
      if (load !== memoryLoad || epoch !== app.knowledge) return;
      app.facts = Array.isArray(facts) ? facts : [];
      debug.memoryLoads += 1;
      renderMemory();
    } catch (error) {
      if (load === memoryLoad && epoch === app.knowledge) knowledgeError(error);
    }
  }

  let memoryTimer = null;
  function refreshMemorySoon() {
    clearTimeout(memoryTimer);
    memoryTimer = setTimeout(loadMemory, 300);
  }

  function renderMemory() {
    const list = $("memory-list");
    const focused = document.activeElement;
    const keepFocus = focused && list.contains(focused) ? focused.dataset.id : null;
    list.replaceChildren();
    app.facts.forEach((fact, index) => {
      const text = String(fact.text || "");
      const item = el("li", "item fact");
      item.dataset.id = String(fact.id);
      const main = el("div", "item-main");
      main.append(el("span", "item-text", text));
      const remove = iconButton(`Forget: ${text}`, () => deleteFact(fact, index));
      remove.dataset.id = String(fact.id);
      item.append(main, remove);
      list.append(item);
      if (keepFocus === String(fact.id)) remove.focus();
    });
    $("memory-empty").hidden = app.facts.length > 0;
    setCount("memory-count", app.facts.length);
  }

  async function onAddFact(event) {
    event.preventDefault();
    const input = $("memory-input");
    const text = input.value.trim();
    if (!text) return;
    const epoch = app.knowledge;
    const submit = $("memory-form").querySelector("button");
    submit.disabled = true;
    try {
      const fact = await api("/api/memory", {
        method: "POST", body: JSON.stringify({ text }),
        headers: { "Content-Type": "application/json" },
      });
      if (epoch !== app.knowledge) return;
      input.value = "";
      if (fact && !app.facts.some((f) => f.id === fact.id)) app.facts.push(fact);
      renderMemory();
      announce("Remembered.");
      loadMemory();
    } catch (error) {
      if (epoch === app.knowledge) knowledgeError(error);
    } finally {
      submit.disabled = false;
    }
  }

  async function deleteFact(fact, index) {
    const epoch = app.knowledge;
    const button = $("memory-list").querySelector(`.icon-button[data-id="${fact.id}"]`);
    if (button) button.disabled = true;
    try {
      await api(`/api/memory/${encodeURIComponent(fact.id)}`, { method: "DELETE" });
    } catch (error) {
      if (!(error instanceof UserError && error.status === 404)) {
        if (button) button.disabled = false;
        knowledgeError(error);
        return;
      }
    }
    if (epoch !== app.knowledge) return;
    app.facts = app.facts.filter((f) => f.id !== fact.id);
    renderMemory();
    announce("Forgotten.");
    focusAfterRemoval("memory-list", index, $("memory-input"));
    loadMemory();
  }

  // ------------------------------------------------------------------ start
  // Whether the page must sign in first: the server answers 200 either way, so a fresh
  // visit logs no refused request. true / false; null when it could not tell (the API's
  // answer decides then).
  async function signInNeeded() {
    try {
      const headers = app.token ? { Authorization: `Bearer ${app.token}` } : {};
      const response = await fetch("/api/auth/status", { headers, cache: "no-store" });
      if (!response.ok) return null;
      return Boolean((await response.json()).sign_in_needed);
    } catch (_) {
      return null;
    }
  }

  async function boot() {
    $("login-form").addEventListener("submit", onLogin);
    $("logout").addEventListener("click", onLogout);
    $("banner-close").addEventListener("click", hideBanner);
    $("new-session").addEventListener("click", newConversation);
    $("mic").addEventListener("click", () => (app.mic ? stopMic() : startMic()));
    $("text-form").addEventListener("submit", onSendText);
    $("upload-input").addEventListener("change", onUpload);
    $("memory-form").addEventListener("submit", onAddFact);
    initSections();
    renderLibrary();
    renderMemory();
    refreshState();
    const hadToken = Boolean(app.token);
    if (await signInNeeded()) {
      debug.authRequired = true;
      forgetToken();
      showLogin(hadToken ? "Your sign-in has expired; please sign in again." : "");
      return;
    }
    try {
      app.sessions = await api("/api/sessions");
      if (!app.token) debug.authRequired = false;
      showApp();
      renderSessions();
      loadLibrary();
      loadMemory();
    } catch (error) {
      if (error instanceof AuthError) {
        forgetToken();
        showLogin(hadToken ? "Your sign-in has expired; please sign in again." : "");
      } else {
        showApp();
        showError(error.message, { transient: false });
      }
    }
  }

  boot();
})();
