// riskd's status page. Reads the gateway's API with the token the user gives (kept in this
// tab's sessionStorage), follows its WebSocket streams (ban list, positions, market) and polls
// the rest every POLL_MS. Builds the DOM with textContent only: no text from the API is ever
// parsed as HTML. Read-only until the user signs in as an operator.
"use strict";

(() => {
  const POLL_MS = 5000;
  const EQUITY_POLL_MS = 60000;
  const RECONNECT_MAX_MS = 5000;
  const $ = (id) => document.getElementById(id);
  const store = window.sessionStorage;
  const page = {
    token: store.getItem("riskd-token") || "",
    operator: store.getItem("riskd-operator") || "",
    account: null,
    streams: new Map(),
    banlist: null,
    locks: [],
    firstRender: null,
    shown: { banlist: false, positions: false },
    stateShown: null,
    tickers: new Map(),
    marketSymbols: "",
  };
  // What tests and the bench read: the ban list version on screen and when it got there, and
  // when each lock on it first got there (Date.now(), by lock id).
  window.riskdPage = { banlistShown: null, lockShownMs: {}, firstRenderMs: null };

  // ------------------------------------------------------------------ DOM helpers

  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(attrs || {})) {
      if (value === undefined || value === null || value === false) continue;
      if (key === "className") node.className = value;
      else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
      else node.setAttribute(key, value === true ? "" : value);
    }
    for (const child of children) {
      if (child === null || child === undefined) continue;
      node.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return node;
  }

  function cell(value, className) {
    return el("td", { className }, value === null || value === undefined ? "–" : value);
  }

  function signed(text) {
    const number = Number(text);
    return cell(text, number > 0 ? "num pos" : number < 0 ? "num neg" : "num");
  }

  function table(headers, rows, empty) {
    if (!rows.length) return el("p", { className: "empty" }, empty);
    const head = el("tr", {}, ...headers.map((h) => el("th", { className: h.endsWith(" ") ? "num" : "" }, h.trim())));
    return el("div", { className: "table-wrap" }, el("table", {}, el("thead", {}, head), el("tbody", {}, ...rows)));
  }

  function replace(id, ...children) {
    $(id).replaceChildren(...children.filter((child) => child !== null && child !== undefined));
  }

  const pad = (n) => String(n).padStart(2, "0");

  function utc(ms) {
    if (ms === null || ms === undefined) return "–";
    const d = new Date(ms);
    return `${d.getUTCFullYear()}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())} ${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())}Z`;
  }

  function duration(ms) {
    const s = Math.max(0, Math.round(ms / 1000));
    if (s < 60) return `${s}s`;
    if (s < 3600) return `${Math.floor(s / 60)}m ${pad(s % 60)}s`;
    if (s < 86400) return `${Math.floor(s / 3600)}h ${pad(Math.floor((s % 3600) / 60))}m`;
    return `${Math.floor(s / 86400)}d ${Math.floor((s % 86400) / 3600)}h`;
  }

  function showProblem(text) {
    const box = $("problem");
    box.textContent = text;
    box.hidden = !text;
  }

  // ------------------------------------------------------------------ the API

  async function api(method, path, body, accepted = []) {
    const headers = {};
    if (page.token) headers.Authorization = `Bearer ${page.token}`;
    const init = { method, headers, cache: "no-store" };
    if (body !== undefined) {
      headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    const response = await fetch(path, init);
    const answer = await response.json().catch(() => null);
    if (response.status === 401) {
      openSignin("This gateway needs a token.");
      throw new Error("a token is needed");
    }
    if (!response.ok && !accepted.includes(response.status)) {
      throw new Error((answer && answer.error) || `HTTP ${response.status}`);
    }
    return answer;
  }

  const query = (path, params) => `${path}?${new URLSearchParams(params)}`;

  function base64url(text) {
    const bytes = new TextEncoder().encode(text);
    let binary = "";
    for (const byte of bytes) binary += String.fromCharCode(byte);
    return btoa(binary).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }

  // A stream reconnects after a loss, waiting longer each time (at most RECONNECT_MAX_MS).
  function openStream(name, path, onMessage) {
    const url = new URL(path, window.location.href);
    url.protocol = url.protocol === "https:" ? "wss:" : "ws:";
    const protocols = page.token ? ["riskd", `bearer.${base64url(page.token)}`] : ["riskd"];
    const stream = { open: false, ended: false, socket: null, everOpen: false };
    let delay = 250;
    const connect = () => {
      const socket = new WebSocket(url, protocols);
      stream.socket = socket;
      socket.onopen = () => {
        stream.open = stream.everOpen = true;
        delay = 250;
        showConnection();
      };
      socket.onmessage = (event) => {
        try {
          onMessage(JSON.parse(event.data));
        } catch (error) {
          showProblem(`${name}: ${error.message}`);
        }
      };
      socket.onclose = () => {
        stream.open = false;
        showConnection();
        if (!stream.ended) {
          window.setTimeout(connect, delay);
          delay = Math.min(delay * 2, RECONNECT_MAX_MS);
        }
      };
    };
    connect();
    page.streams.set(name, stream);
  }

  function closeStreams(names) {
    for (const name of names || [...page.streams.keys()]) {
      const stream = page.streams.get(name);
      if (!stream) continue;
      stream.ended = true;
      stream.socket.close();
      page.streams.delete(name);
    }
  }

  function showConnection(pollFailed) {
    const streams = [...page.streams.values()];
    const lost = pollFailed || streams.some((s) => !s.open && s.everOpen);
    const live = !lost && streams.length && streams.every((s) => s.open);
    const badge = $("connection");
    badge.dataset.state = live ? "live" : lost ? "lost" : "connecting";
    badge.textContent = live ? "live" : lost ? "connection lost, reconnecting…" : "connecting…";
  }

  // ------------------------------------------------------------------ rendering

  function markShown(part) {
    page.shown[part] = true;
    if (page.firstRender === null && Object.values(page.shown).every(Boolean)) {
      page.firstRender = performance.now();
      performance.mark("riskd-first-render");
      window.riskdPage.firstRenderMs = page.firstRender;
    }
  }

  // The state's name comes with every ban list; who set it and why with GET /v1/state.
  function renderState(state) {
    if (page.banlist && state.state !== page.banlist.state) return; // older than the list
    const since = state.at_ms ? `since ${utc(state.at_ms)}` : "never changed";
    replace(
      "state",
      el("div", { className: `state state-${state.state}` }, state.state),
      el("div", {}, state.actor ? `set by ${state.actor}` : "", " ", el("span", { className: "muted" }, since)),
      state.reason ? el("div", {}, state.reason) : null,
    );
    page.stateShown = state;
  }

  function renderListedState(list) {
    if (!page.stateShown || page.stateShown.state !== list.state) {
      replace("state", el("div", { className: `state state-${list.state}` }, list.state));
      page.stateShown = null;
      poll("state", async () => renderState(await api("GET", query("/v1/state", { account: list.account }))));
    }
  }

  function timeLeft(lock, now) {
    return lock.until === null ? "until unlocked" : duration(lock.until - now);
  }

  function renderBanlist(list) {
    page.banlist = list;
    page.locks = list.locks;
    const now = Date.now();
    const rows = list.locks.map((lock) =>
      el(
        "tr",
        { "data-lock": lock.id },
        cell(lock.symbol),
        cell(lock.side),
        cell(lock.robot || "all robots"),
        cell(lock.reason_text),
        cell(lock.source),
        cell(utc(lock.created)),
        el("td", { className: "num left", "data-until": lock.until === null ? "" : lock.until }, timeLeft(lock, now)),
        el("td", { className: "operator-only", hidden: !operating() }, el("button", { type: "button", onclick: () => unlock(lock) }, "Unlock")),
      ),
    );
    const expired = list.valid_until < now;
    replace(
      "banlist",
      expired ? el("p", { className: "neg" }, "This list has expired: robots treat the account as banned.") : null,
      list.all ? el("p", { className: "neg" }, "The whole account is locked.") : null,
      table(["symbol", "side", "robot", "reason", "rule", "since", "time left ", ""], rows, "No locks: nothing is banned."),
    );
    $("banlist").dataset.version = list.version;
    $("banlist-version").textContent = `version ${list.version}, valid until ${utc(list.valid_until)}`;
    renderListedState(list);
    const shownMs = Date.now();
    const before = window.riskdPage.lockShownMs;
    window.riskdPage.banlistShown = { version: list.version, generated_at: list.generated_at, shown_ms: shownMs, locks: list.locks.length };
    window.riskdPage.lockShownMs = Object.fromEntries(list.locks.map((lock) => [lock.id, before[lock.id] ?? shownMs]));
    markShown("banlist");
  }

  function tickCountdowns() {
    const now = Date.now();
    for (const node of document.querySelectorAll("#banlist td.left")) {
      const until = node.dataset.until;
      if (until) node.textContent = duration(Number(until) - now);
    }
  }

  function renderPositions(message) {
    if (message.error) {
      replace("positions", el("p", { className: "neg" }, `The position book does not answer: ${message.error}`));
      return;
    }
    const open = message.positions.filter((p) => Number(p.amount) !== 0);
    const rows = open.map((p) => {
      const rungs =
        p.rungs === null
          ? "unknown (the stop ladder does not answer)"
          : p.rungs.length
            ? p.rungs.map((r) => `${r.trigger_price} × ${r.close_position ? "all" : r.quantity}`).join(", ")
            : "none";
      const distance = p.liquidation_distance === null ? null : `${(Number(p.liquidation_distance) * 100).toFixed(2)}%`;
      return el(
        "tr",
        { "data-symbol": p.symbol },
        cell(p.symbol),
        cell(p.position_side),
        signed(p.amount),
        cell(p.entry_price, "num"),
        cell(p.mark_price, "num"),
        p.unrealized_pnl === null ? cell(null) : signed(p.unrealized_pnl),
        cell(p.liquidation_price, "num"),
        cell(distance, "num"),
        el("td", { className: `rungs${p.rungs !== null && !p.rungs.length ? " neg" : ""}` }, rungs),
      );
    });
    const balances = message.balances.map((b) => `${b.asset} ${b.wallet_balance}` + (b.unrealized_pnl ? ` (uPnL ${b.unrealized_pnl})` : ""));
    replace(
      "positions",
      table(["symbol", "side", "amount ", "entry ", "mark ", "uPnL ", "liquidation ", "to liq. ", "stop rungs (nearest first)"], rows, "No open positions."),
      el("p", { className: "muted" }, balances.length ? `Wallet: ${balances.join(" · ")}` : "No balances yet."),
    );
    markShown("positions");
  }

  function renderEquity(equity) {
    const points = equity.points.map(([t, v]) => [t, Number(v)]);
    window.RiskdCharts.line($("equity"), points, { title: "equity", unit: equity.assets.join("+") });
  }

  function renderSymbolPnl(report) {
    const multi = new Set(report.rows.map((r) => r.asset)).size > 1;
    const items = report.rows.map((r) => ({ label: multi ? `${r.key} ${r.asset}` : r.key, value: Number(r.realized_pnl) }));
    window.RiskdCharts.bars($("pnl-symbols"), items, { title: "realized PnL" });
  }

  function renderRobots(pnl, summary) {
    const totals = new Map();
    for (const row of pnl.rows) totals.set(row.key, [...(totals.get(row.key) || []), `${row.total} ${row.asset}`]);
    const names = new Set([...summary.robots.map((r) => r.robot), ...totals.keys()]);
    const byRobot = new Map(summary.robots.map((r) => [r.robot, r]));
    const rows = [...names].sort().map((name) => {
      const gate = byRobot.get(name) || { passed: 0, refused: 0, last_refusal: null, last_refused_ms: null };
      const pnlText = (totals.get(name) || ["0"]).join(", ");
      return el(
        "tr",
        { "data-robot": name },
        cell(name),
        signed(pnlText),
        cell(String(gate.passed), "num"),
        cell(String(gate.refused), gate.refused ? "num neg" : "num"),
        cell(gate.last_refusal ? `${gate.last_refusal} at ${utc(gate.last_refused_ms)}` : null),
      );
    });
    replace("robots", table(["robot", "PnL ", "orders passed ", "refused ", "last refusal"], rows, "No robots."));
  }

  function renderJobs(health) {
    const ips = new Map();
    for (const job of health.jobs) {
      const h = job.health;
      if (!h || !h.egress) continue;
      const ip = ips.get(h.egress) || { used: 0, budget: 0 };
      ip.used += h.weight_used_1m || 0;
      ip.budget += h.weight_per_minute || 0;
      ips.set(h.egress, ip);
    }
    const meters = [...ips.entries()].sort().map(([ip, w]) => {
      const share = w.budget ? Math.min(1, w.used / w.budget) : 0;
      const fill = el("span");
      fill.style.width = `${(share * 100).toFixed(1)}%`; // CSSOM: allowed by the page's CSP
      return el(
        "tr",
        { "data-egress": ip },
        cell(ip),
        cell(`${w.used} / ${w.budget}`, "num"),
        el("td", {}, el("div", { className: `meter${share > 0.8 ? " hot" : ""}`, title: `${Math.round(share * 100)}%` }, fill)),
      );
    });
    const rows = health.jobs.map((job) => {
      const h = job.health || {};
      const healthy = job.state === "running" && h.late === false;
      return el(
        "tr",
        { "data-job": `${job.job}:${job.account}` },
        cell(job.job),
        cell(job.account),
        cell(job.state, healthy ? "pos" : "neg"),
        cell(h.egress),
        cell(h.weight_per_minute === undefined ? null : `${h.weight_used_1m} / ${h.weight_per_minute}`, "num"),
        cell(h.lag_ms === undefined ? null : `${(h.lag_ms / 1000).toFixed(1)}s`, "num"),
        cell(String(job.restarts), "num"),
        cell(h.last_error || ""),
      );
    });
    replace(
      "weights",
      health.problems.length ? el("ul", { className: "neg" }, ...health.problems.map((p) => el("li", {}, p))) : null,
      table(["egress IP", "weight used / budget per minute ", ""], meters, "No egress in use."),
    );
    replace("jobs", table(["job", "account", "state", "egress", "weight/1m ", "lag ", "restarts ", "last error"], rows, "No jobs."));
  }

  const priceOf = (ticker) => ticker.last || ticker.bid || null;

  function renderMarket(stats) {
    if (stats === null) {
      replace("market", el("p", { className: "empty" }, "This deployment has no market feed."));
      return;
    }
    const rows = Object.entries(stats.symbols).map(([symbol, s]) => {
      const ticker = page.tickers.get(symbol) || {};
      const kinds = Object.entries(s.kinds).map(([kind, age]) => `${kind} ${age === null ? "–" : duration(age)}`);
      return el("tr", { "data-symbol": symbol }, cell(symbol), cell(priceOf(ticker), "num price"), cell(s.age_ms === null ? null : `${s.age_ms} ms`, "num"), cell(kinds.join(", ")));
    });
    replace("market", table(["symbol", "last ", "oldest ", "ages"], rows, "No symbols in the feed."));
    const symbols = Object.keys(stats.symbols).sort().slice(0, 200).join(",");
    if (symbols && symbols !== page.marketSymbols) {
      page.marketSymbols = symbols;
      closeStreams(["market"]);
      openStream("market", query("/v1/market/stream", { symbols }), (m) => {
        if (m.type !== "ticker") return;
        page.tickers.set(m.symbol, m);
        const price = document.querySelector(`#market tr[data-symbol="${CSS.escape(m.symbol)}"] td.price`);
        if (price) price.textContent = priceOf(m) || "–";
      });
    }
  }

  const labelText = (labels) =>
    Object.entries(labels)
      .filter(([k]) => k !== "alertname")
      .map(([k, v]) => `${k}=${v}`)
      .join(" ");

  function renderAlerts(alerts, recent) {
    const firing = alerts.map((a) =>
      el("tr", {}, cell(a.name, `severity-${a.severity}`), cell(labelText(a.labels)), cell(utc(a.starts_ms)), cell(a.muted ? "muted" : "")),
    );
    const told = recent.map((a) =>
      el(
        "tr",
        { "data-alert": a.name },
        cell(utc(a.told_ms)),
        cell(a.name, `severity-${a.severity}`),
        cell(a.state, a.state === "firing" ? "neg" : a.state === "resolved" ? "pos" : ""),
        cell(labelText(a.labels)),
        cell(a.delivery, a.delivery === "sent" ? "" : "neg"),
      ),
    );
    replace(
      "alerts",
      table(["firing", "labels", "since", ""], firing, "Nothing is firing."),
      el("h3", {}, "Told lately (24 h)"),
      table(["when", "alert", "state", "labels", "delivery"], told, "Nothing was told in 24 h."),
    );
  }

  function renderSilences(silences) {
    const now = Date.now();
    const rows = silences.map((s) =>
      el(
        "tr",
        {},
        cell(s.matchers.join(", ")),
        cell(s.created_by),
        cell(s.comment),
        cell(duration(s.ends_ms - now), "num"),
        el("td", { className: "operator-only", hidden: !operating() }, el("button", { type: "button", onclick: () => expire(s) }, "Expire")),
      ),
    );
    replace("silences", table(["matchers", "by", "comment", "ends in ", ""], rows, "No silences."));
  }

  // ------------------------------------------------------------------ loading

  async function poll(label, load) {
    try {
      await load();
      return true;
    } catch (error) {
      showProblem(`${label}: ${error.message}`);
      return false;
    }
  }

  async function refresh() {
    const account = page.account;
    const results = await Promise.all([
      poll("state", async () => renderState(await api("GET", query("/v1/state", { account })))),
      poll("jobs", async () => renderJobs(await api("GET", "/v1/health", undefined, [503]))),
      poll("alerts", async () => {
        const [firing, recent] = await Promise.all([
          api("GET", "/v1/alerts"),
          api("GET", query("/v1/alerts/recent", { hours: 24, limit: 20 })),
        ]);
        renderAlerts(firing.alerts, recent.alerts);
      }),
      poll("silences", async () => renderSilences((await api("GET", "/v1/silences")).silences)),
      poll("robots", async () => {
        const [pnl, summary] = await Promise.all([
          api("GET", query("/v1/pnl", { account, by: "robot" })),
          api("GET", query("/v1/orders/summary", { account })).catch(() => ({ robots: [] })),
        ]);
        renderRobots(pnl, summary);
      }),
      poll("pnl", async () => renderSymbolPnl(await api("GET", query("/v1/pnl", { account, by: "symbol" })))),
      poll("market", async () => renderMarket(await api("GET", "/v1/market/stats", undefined, [404]).then((s) => (s && s.symbols ? s : null)))),
    ]);
    const ok = results.every(Boolean);
    if (ok) showProblem("");
    showConnection(!ok);
    $("updated").textContent = `updated ${utc(Date.now())}`;
  }

  async function refreshEquity() {
    await poll("equity", async () => renderEquity(await api("GET", query("/v1/equity", { account: page.account }))));
  }

  function follow(account) {
    closeStreams();
    page.account = account;
    page.marketSymbols = "";
    openStream("banlist", query("/v1/banlist/stream", { account }), renderBanlist);
    openStream("positions", query("/v1/positions/stream", { account }), renderPositions);
    refresh();
    refreshEquity();
  }

  async function start() {
    let accounts;
    try {
      accounts = (await api("GET", "/v1/positions")).accounts.map((view) => view.account);
    } catch (error) {
      showProblem(`riskd does not answer: ${error.message}`);
      showConnection(true);
      window.setTimeout(start, 2000);
      return;
    }
    const select = $("account");
    select.replaceChildren(...accounts.map((name) => el("option", { value: name }, name)));
    const wanted = new URLSearchParams(window.location.search).get("account");
    select.value = accounts.includes(wanted) ? wanted : accounts[0];
    select.hidden = accounts.length < 2;
    select.onchange = () => follow(select.value);
    follow(select.value);
    window.setInterval(refresh, POLL_MS);
    window.setInterval(refreshEquity, EQUITY_POLL_MS);
    window.setInterval(tickCountdowns, 1000);
  }

  // ------------------------------------------------------------------ operators

  function operating() {
    return Boolean(page.operator);
  }

  function showOperatorControls() {
    for (const node of document.querySelectorAll(".operator-only")) node.hidden = !operating();
    $("operator").textContent = operating() ? `Operator: ${page.operator}` : "Operator";
  }

  function openSignin(text) {
    $("signin").hidden = false;
    if (text) showProblem(text);
    $("token").focus();
  }

  async function act(label, method, path, body) {
    try {
      await api(method, path, body);
      showProblem("");
      refresh();
    } catch (error) {
      showProblem(`${label}: ${error.message}`);
    }
  }

  function unlock(lock) {
    const reason = window.prompt(`Unlock ${lock.symbol} (${lock.side}): reason?`);
    if (!reason) return;
    const params = { account: page.account, operator: page.operator, reason };
    act("unlock", "DELETE", query(`/v1/locks/${lock.id}`, params));
  }

  function expire(silence) {
    act("expire", "DELETE", query(`/v1/silences/${silence.id}`, { operator: page.operator }));
  }

  function wireForms() {
    $("operator").onclick = () => openSignin("");
    $("token").value = page.token;
    $("operator-name").value = page.operator;
    $("signin").onsubmit = (event) => {
      event.preventDefault();
      page.token = $("token").value;
      page.operator = $("operator-name").value.trim();
      store.setItem("riskd-token", page.token);
      store.setItem("riskd-operator", page.operator);
      $("signin").hidden = true;
      showProblem("");
      showOperatorControls();
      if (page.account === null) start();
      else follow(page.account);
    };
    $("signout").onclick = () => {
      page.operator = "";
      store.removeItem("riskd-operator");
      $("signin").hidden = true;
      showOperatorControls();
    };
    $("state-form").onsubmit = (event) => {
      event.preventDefault();
      act("state", "POST", "/v1/state", { account: page.account, state: $("state-value").value, reason: $("state-reason").value, operator: page.operator });
    };
    $("lock-form").onsubmit = (event) => {
      event.preventDefault();
      const body = { account: page.account, symbol: $("lock-symbol").value.trim().toUpperCase(), side: $("lock-side").value, reason: $("lock-reason").value, operator: page.operator };
      const minutes = Number($("lock-minutes").value);
      if (minutes > 0) body.until_ms = Date.now() + Math.round(minutes * 60000);
      if ($("lock-robot").value.trim()) body.robot = $("lock-robot").value.trim();
      act("lock", "POST", "/v1/locks", body);
    };
    $("silence-form").onsubmit = (event) => {
      event.preventDefault();
      const matchers = $("silence-matchers").value.split(",").map((m) => m.trim()).filter(Boolean);
      act("silence", "POST", "/v1/silences", { matchers, minutes: Number($("silence-minutes").value), created_by: page.operator, comment: $("silence-comment").value });
    };
  }

  wireForms();
  showOperatorControls();
  start();
})();
