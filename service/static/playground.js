// sentiment-rnn playground: plain JS, no framework, no build step. Talks only to this origin.
"use strict";

(() => {
  const DEBOUNCE_MS = 250;
  const KEY_STORAGE = "sentiment-rnn.apiKey";
  const SVG_NS = "http://www.w3.org/2000/svg";
  const LANGUAGES = { en: "English", zh: "Chinese · 中文" };

  const $ = (id) => document.getElementById(id);
  const main = $("app");
  const textBox = $("text");
  const counter = $("counter");
  const keyBox = $("api-key");
  const errorBox = $("error");

  let maxChars = 5000; // replaced by the service's configured limit from /openapi.json
  let maxExplainChars = 5000; // the longest text whose tokens are explained (the same schema)
  let timer = null;
  let inflight = null; // AbortController of the running /predict request
  let retryTimer = null;
  let keyTimer = null;

  // ---- helpers --------------------------------------------------------------------------------

  function el(tag, props = {}, children = []) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(props)) {
      if (k === "class") node.className = v;
      else if (k === "text") node.textContent = v;
      else node.setAttribute(k, v);
    }
    for (const c of children) node.append(c);
    return node;
  }

  function svg(tag, attrs = {}) {
    const node = document.createElementNS(SVG_NS, tag);
    for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, String(v));
    return node;
  }

  const pct = (p) => `${(100 * p).toFixed(1)}%`;
  const fmt = (x, digits = 3) => (Number.isFinite(x) ? x.toFixed(digits) : "—");

  function headers(json) {
    const h = json ? { "Content-Type": "application/json" } : {};
    const key = keyBox.value.trim();
    if (key) h["X-API-Key"] = key;
    return h;
  }

  /** fetch() that turns any non-2xx answer into an Error carrying the RFC 9457 problem fields. */
  async function api(path, options = {}) {
    const res = await fetch(path, { cache: "no-store", ...options });
    if (res.ok) return res.json();
    let problem = {};
    try {
      problem = await res.json();
    } catch {
      // not JSON (a proxy's HTML page, say): fall back to the status line
    }
    const err = new Error(problem.detail || res.statusText || `HTTP ${res.status}`);
    err.status = res.status;
    err.title = problem.title || res.statusText || "Error";
    err.retryAfter = Number(res.headers.get("Retry-After")) || 0;
    return Promise.reject(err);
  }

  // ---- errors ---------------------------------------------------------------------------------

  function showError(err) {
    errorBox.replaceChildren();
    errorBox.dataset.status = String(err.status || "network");
    let heading;
    let body;
    if (err.status === 401) {
      heading = "This service needs an API key.";
      body = "Enter it in the “API key” field; the text is re-checked as soon as you do.";
      $("api-key-box").open = true;
      keyBox.setAttribute("aria-invalid", "true");
    } else if (err.status) {
      heading = `${err.title} (${err.status})`;
      body = err.message;
    } else {
      heading = "Could not reach the service.";
      body = `Check that it is running and try again. (${err.message})`;
    }
    errorBox.append(el("strong", { text: heading }), el("span", { text: body }));
    errorBox.hidden = false;
  }

  function clearError() {
    errorBox.hidden = true;
    errorBox.replaceChildren();
    delete errorBox.dataset.status;
    keyBox.removeAttribute("aria-invalid");
  }

  // ---- input ----------------------------------------------------------------------------------

  function updateCounter() {
    const n = textBox.value.length;
    const over = n > maxChars;
    counter.textContent = `${n.toLocaleString("en")} / ${maxChars.toLocaleString("en")} characters`;
    counter.dataset.over = String(over);
    textBox.setAttribute("aria-invalid", String(over));
  }

  function schedule(delay = DEBOUNCE_MS) {
    clearTimeout(timer);
    clearTimeout(retryTimer);
    updateCounter();
    if (!textBox.value.trim()) {
      if (inflight) inflight.abort();
      clearError();
      renderEmpty();
      return;
    }
    main.dataset.state = "loading";
    timer = setTimeout(predict, delay);
  }

  async function predict() {
    if (inflight) inflight.abort(); // a stale answer must never overwrite a newer one
    const controller = new AbortController();
    inflight = controller;
    const text = textBox.value;
    try {
      const result = await api("predict", {
        method: "POST",
        headers: headers(true),
        body: JSON.stringify({ text, explain: text.length <= maxExplainChars, include_hidden: true, sentences: true }),
        signal: controller.signal,
      });
      clearError();
      render(result, text);
      main.dataset.state = "ok";
    } catch (err) {
      if (err.name === "AbortError") return;
      showError(err);
      clearResult();
      main.dataset.state = "error";
      $("summary").textContent = err.status === 401 ? "An API key is needed." : "No result: see the error above.";
      if (err.status === 503 && err.retryAfter) retryTimer = setTimeout(predict, err.retryAfter * 1000);
    } finally {
      if (inflight === controller) inflight = null;
    }
  }

  // ---- rendering ------------------------------------------------------------------------------

  function renderEmpty() {
    main.dataset.state = "empty";
    clearResult();
    $("summary").textContent = "Type some text to see its sentiment.";
  }

  /** Remove the last result, so that nothing on screen belongs to an older text. */
  function clearResult() {
    main.classList.remove("has-result");
    $("label").textContent = "—";
    $("label").dataset.label = "";
    $("score").textContent = "";
    $("language").textContent = "language: —";
    $("probbar-fill").style.width = "0";
    $("tokens").replaceChildren();
    $("chart").replaceChildren();
    $("chart-desc").textContent = "";
    $("hidden").replaceChildren();
    $("sentences").replaceChildren();
    $("sentences-box").hidden = true;
  }

  /** A sentiment score in [-1, 1], signed: "+0.42", "−0.17". */
  function signed(v) {
    return `${v >= 0 ? "+" : "−"}${Math.abs(v).toFixed(2)}`;
  }

  /** The explained tokens, in groups that each start from their own baseline: the text's, or
   *  one per sentence for a text of several sentences (each sentence is explained on its own). */
  function explainedGroups(r) {
    if (r.explanation) return [{ before: r.explanation.baseline_sentiment, tokens: r.explanation.tokens }];
    return (r.sentences || [])
      .filter((s) => s.explanation)
      .map((s) => ({ before: s.explanation.baseline_sentiment, tokens: s.explanation.tokens }));
  }

  /** A text of several sentences: each one, coloured by its sentiment, under the document's answer. */
  function renderSentences(sentences, text) {
    const several = sentences && sentences.length > 1;
    $("sentences-box").hidden = !several;
    if (!several) {
      $("sentences").replaceChildren();
      return;
    }
    $("sentences").replaceChildren(
      ...sentences.map((s, i) => {
        const dir = s.sentiment >= 0 ? "pos" : "neg";
        const item = el("li", {
          class: "sentence",
          "data-sentence": String(i),
          "data-label": s.label,
          title: `${s.label} (${pct(s.score)}), sentiment ${signed(s.sentiment)}`,
        });
        item.textContent = text.slice(s.start, s.end);
        item.style.backgroundColor = `rgba(var(--${dir}), ${(0.08 + 0.5 * Math.min(1, Math.abs(s.sentiment))).toFixed(3)})`;
        return item;
      }),
    );
  }

  function render(r, text) {
    main.classList.add("has-result");
    $("label").textContent = r.label;
    $("label").dataset.label = r.label;
    $("score").textContent = pct(r.score);
    $("language").textContent = `language: ${LANGUAGES[r.language] || r.language} (${r.language})`;
    $("probbar-fill").style.width = pct((r.sentiment + 1) / 2);
    const unknown = r.unknown_tokens ? `, ${r.unknown_tokens} unknown` : "";
    const truncated = r.truncated ? " The text was truncated to the model's maximum length." : "";
    $("summary").textContent =
      `${r.label.charAt(0).toUpperCase()}${r.label.slice(1)} with probability ${pct(r.score)}; ` +
      `sentiment ${signed(r.sentiment)}. ${r.tokens} tokens${unknown}.${truncated}`;
    const groups = explainedGroups(r);
    renderTokens(groups, r.language);
    renderChart(groups.flatMap((g) => g.tokens));
    renderSentences(r.sentences, text);
    renderHidden(r.hidden_state);
  }

  function renderTokens(groups, language) {
    const box = $("tokens");
    box.lang = language;
    // Each token's push: how much the running sentiment moved when the RNN read it (> 0: toward positive).
    const tokens = groups.flatMap((g) => g.tokens);
    const push = groups.flatMap((g) => g.tokens.map((t, i) => t.sentiment - (i ? g.tokens[i - 1].sentiment : g.before)));
    const scale = Math.max(0.05, ...push.map(Math.abs));
    box.replaceChildren(
      ...tokens.map((t, i) => {
        const dir = push[i] >= 0 ? "pos" : "neg";
        const strength = Math.min(1, Math.abs(push[i]) / scale);
        const span = el("span", {
          class: t.known ? "tok" : "tok tok-unknown",
          role: "listitem",
          "data-index": String(i),
          "data-direction": dir,
          title:
            `“${t.text}”: sentiment ${signed(push[i])} toward ` +
            `${dir === "pos" ? "positive" : "negative"}, ${signed(t.sentiment)} after it` +
            (t.known ? "" : "; unknown to the model") +
            (t.read_as ? `; outside the vocabulary, read as “${t.read_as}”` : ""),
        });
        span.textContent = t.text;
        span.style.backgroundColor = `rgba(var(--${dir}), ${(0.1 + 0.65 * strength).toFixed(3)})`;
        if (strength > 0.6) span.style.color = "#fff";
        span.addEventListener("mouseenter", () => highlight(i, true));
        span.addEventListener("mouseleave", () => highlight(i, false));
        return span;
      }),
    );
  }

  function highlight(i, on) {
    for (const node of document.querySelectorAll(`[data-index="${i}"]`)) node.classList.toggle("active", on);
  }

  function renderChart(tokens) {
    const box = $("chart");
    if (!tokens.length) {
      box.replaceChildren();
      return;
    }
    const W = 640, H = 200, L = 38, R = 10, T = 10, B = 26;
    const n = tokens.length;
    const x = (i) => (n === 1 ? L + (W - L - R) / 2 : L + (i * (W - L - R)) / (n - 1));
    const y = (v) => T + ((1 - v) / 2) * (H - T - B); // sentiment in [-1, 1]
    const chart = svg("svg", { viewBox: `0 0 ${W} ${H}`, "aria-hidden": "true", focusable: "false" });
    for (const v of [-1, 0, 1]) {
      chart.append(svg("line", { class: v === 0 ? "midline" : "axis", x1: L, x2: W - R, y1: y(v), y2: y(v) }));
      const label = svg("text", { class: "tick", x: L - 6, y: y(v) + 4, "text-anchor": "end" });
      label.textContent = v > 0 ? "+1" : v < 0 ? "−1" : "0";
      chart.append(label);
    }
    const first = svg("text", { class: "tick", x: x(0), y: H - 6, "text-anchor": n === 1 ? "middle" : "start" });
    first.textContent = "token 1";
    chart.append(first);
    if (n > 1) {
      const last = svg("text", { class: "tick", x: x(n - 1), y: H - 6, "text-anchor": "end" });
      last.textContent = `token ${n}`;
      chart.append(last);
    }
    const values = tokens.map((t) => t.sentiment);
    const d = values.map((p, i) => `${i ? "L" : "M"}${x(i).toFixed(1)},${y(p).toFixed(1)}`).join(" ");
    chart.append(svg("path", { class: "line", d, "data-points": n }));
    if (n <= 80) {
      values.forEach((p, i) => {
        const dot = svg("circle", { class: p < 0 ? "pt below" : "pt", cx: x(i), cy: y(p), r: 3.5, "data-index": i });
        const title = svg("title");
        title.textContent = `${tokens[i].text}: sentiment ${signed(p)}`;
        dot.append(title);
        dot.addEventListener("mouseenter", () => highlight(i, true));
        dot.addEventListener("mouseleave", () => highlight(i, false));
        chart.append(dot);
      });
    }
    box.replaceChildren(chart);
    const lo = Math.min(...values), hi = Math.max(...values);
    $("chart-desc").textContent =
      `The sentiment starts at ${signed(values[0])} after the first token, ranges from ${signed(lo)} to ` +
      `${signed(hi)}, and ends at ${signed(values[n - 1])} after token ${n}.`;
  }

  /** PuOr diverging colour for a hidden unit's value in [-1, 1]. */
  function unitColour(v) {
    const t = Math.max(-1, Math.min(1, v));
    const mid = [247, 247, 247];
    const end = t < 0 ? [84, 39, 136] : [179, 88, 6];
    const a = Math.abs(t);
    const c = mid.map((m, k) => Math.round(m + (end[k] - m) * a));
    return `rgb(${c.join(", ")})`;
  }

  const narrow = window.matchMedia("(max-width: 800px)");

  function renderHidden(hs) {
    const box = $("hidden");
    box.replaceChildren(
      ...hs.states.map((s) => {
        const name = (hs.members > 1 ? `member ${s.member + 1} · ` : "") + `layer ${s.layer}` + (hs.num_directions > 1 ? ` · ${s.direction}` : "");
        const stats = `‖h‖ ${fmt(s.l2_norm, 2)} · mean ${fmt(s.mean)} · std ${fmt(s.std)}`;
        const strip = el("div", { class: "strip", role: "img", "aria-label": `${name}: ${hs.hidden_size} units, ${stats}` });
        strip.style.gridTemplateColumns = `repeat(${Math.min(hs.hidden_size, narrow.matches ? 32 : 64)}, minmax(0, 1fr))`;
        (s.values || []).forEach((v, j) => {
          const cell = el("span", { class: "cell", title: `unit ${j}: ${v.toFixed(4)}`, "data-value": String(v) });
          cell.style.backgroundColor = unitColour(v);
          strip.append(cell);
        });
        const head = el("div", { class: "state-head" }, [
          el("span", { class: "state-name", text: name }),
          el("span", { class: "state-stats", text: stats }),
        ]);
        return el("div", { class: "state", "data-layer": String(s.layer), "data-direction": s.direction }, [head, strip]);
      }),
    );
  }

  // ---- model facts (footer) -------------------------------------------------------------------

  let modelRequest = 0; // only the newest /model answer is shown

  async function loadModel() {
    const facts = $("facts");
    const mine = ++modelRequest;
    const row = (key, dt, dd) => el("div", {}, [el("dt", { text: dt }), el("dd", { "data-fact": key, text: dd })]);
    try {
      const m = await api("model", { headers: headers(false) });
      if (mine !== modelRequest) return;
      const a = m.architecture;
      const acc = m.metrics && m.metrics.test && m.metrics.test.accuracy;
      facts.replaceChildren(
        row("type", "Model", `${a.type} (${a.nonlinearity})`),
        row("input_size", "input_size", String(a.input_size)),
        row("hidden_size", "hidden_size", String(a.hidden_size)),
        row("num_layers", "num_layers", String(a.num_layers)),
        row("bidirectional", "bidirectional", String(a.bidirectional)),
        row("nonlinearity", "nonlinearity", a.nonlinearity),
        row("test_accuracy", "test accuracy", typeof acc === "number" ? pct(acc) : "n/a"),
        row("model_version", "version", m.model_version),
      );
    } catch (err) {
      if (mine !== modelRequest) return;
      const why = err.status === 401 ? "needs the API key" : `unavailable (${err.message})`;
      facts.replaceChildren(row("error", "Model facts", why));
    }
  }

  /** The configured text limit, from the OpenAPI schema the service publishes. */
  async function loadLimit() {
    try {
      const schema = await api("openapi.json");
      const request = schema.components.schemas.PredictRequest;
      const limit = request.properties.text.maxLength;
      if (Number.isInteger(limit) && limit > 0) maxChars = limit;
      const explainLimit = request["x-max-explain-chars"];
      if (Number.isInteger(explainLimit) && explainLimit > 0) maxExplainChars = explainLimit;
    } catch {
      // keep the default
    }
    updateCounter();
  }

  // ---- wiring ---------------------------------------------------------------------------------

  textBox.addEventListener("input", () => schedule());
  for (const button of document.querySelectorAll("button.example")) {
    button.addEventListener("click", () => {
      textBox.value = button.dataset.text;
      schedule(0);
      textBox.focus();
    });
  }
  keyBox.value = sessionStorage.getItem(KEY_STORAGE) || "";
  if (keyBox.value) $("api-key-box").open = true;
  keyBox.addEventListener("input", () => {
    const key = keyBox.value.trim();
    if (key) sessionStorage.setItem(KEY_STORAGE, key);
    else sessionStorage.removeItem(KEY_STORAGE);
    clearTimeout(keyTimer);
    keyTimer = setTimeout(loadModel, DEBOUNCE_MS);
    if (textBox.value.trim()) schedule();
  });

  updateCounter();
  loadLimit();
  loadModel();
  if (textBox.value.trim()) schedule(0); // e.g. text restored by the browser on reload
})();
