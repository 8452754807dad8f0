// lambda-nlp demo page. No framework, no build step, no inline code (the page's CSP forbids it).
// User text only ever reaches the DOM through textContent / text nodes; the one piece of server
// markup (displaCy's) is parsed inertly and rebuilt from an allow-list of elements and attributes.
"use strict";

(function () {
  const SERVICES = {
    ner: { title: "named-entity recognition", route: "/ner" },
    qa: { title: "question answering", route: "/qa" },
  };

  function byId(id) {
    return document.getElementById(id);
  }

  function show(element, text) {
    element.textContent = text;
    element.hidden = false;
  }

  function hide(element) {
    element.textContent = "";
    element.hidden = true;
  }

  // POST or GET relative to the page, so it works on a function URL, behind a front door or a
  // path prefix. Resolves to {ok, status, data}; never rejects.
  async function callApi(path, body) {
    const init = body === undefined
      ? { method: "GET", headers: { Accept: "application/json" } }
      : {
          method: "POST",
          headers: { "Content-Type": "application/json", Accept: "application/json" },
          body: JSON.stringify(body),
        };
    let response;
    try {
      response = await fetch(path, init);
    } catch (err) {
      return {
        ok: false,
        status: 0,
        data: { error: { code: "network_error", message: "Could not reach the server (" + err.message + "). Check that it is running and retry." } },
      };
    }
    let data = null;
    try {
      data = await response.json();
    } catch (err) {
      data = null;
    }
    if (!response.ok && !(data && data.error)) {
      data = {
        error: {
          code: "http_" + response.status,
          message: "The server answered " + response.status + " " + response.statusText + " without an error body. Retry; if it persists, check the server logs.",
        },
      };
    }
    return { ok: response.ok, status: response.status, data: data };
  }

  function showError(element, status, error) {
    element.textContent = "";
    const code = document.createElement("span");
    code.className = "code";
    code.textContent = (status ? status + " " : "") + (error.code || "error");
    element.appendChild(code);
    element.appendChild(document.createTextNode(error.message || "Unknown error."));
    element.hidden = false;
  }

  function setBusy(prefix, busy) {
    byId(prefix + "-submit").disabled = busy;
    byId(prefix + "-busy").hidden = !busy;
  }

  function disablePanel(name, message) {
    const panel = byId(name + "-panel");
    panel.classList.add("disabled");
    panel.dataset.state = "unavailable";
    show(byId(name + "-unavailable"), message);
    for (const control of panel.querySelectorAll("textarea, input, button")) {
      control.disabled = true;
    }
  }

  // ---- displaCy markup -> DOM, from an allow-list --------------------------------------------
  const ALLOWED_TAGS = new Set(["DIV", "MARK", "SPAN", "BR"]);
  const ALLOWED_ATTRIBUTES = ["class", "style"];

  function copyAllowed(source, target) {
    for (const child of source.childNodes) {
      if (child.nodeType === Node.TEXT_NODE) {
        target.appendChild(document.createTextNode(child.data));
      } else if (child.nodeType === Node.ELEMENT_NODE) {
        if (ALLOWED_TAGS.has(child.tagName)) {
          const element = document.createElement(child.tagName.toLowerCase());
          for (const name of ALLOWED_ATTRIBUTES) {
            const value = child.getAttribute(name);
            if (value !== null) {
              element.setAttribute(name, value);
            }
          }
          copyAllowed(child, element);
          target.appendChild(element);
        } else {
          // Anything else keeps only its text: nothing the server sends can become an element.
          copyAllowed(child, target);
        }
      }
    }
  }

  function renderMarkup(markup, target) {
    // A DOMParser document has no browsing context: nothing in it loads or runs.
    const parsed = new DOMParser().parseFromString(markup, "text/html");
    target.textContent = "";
    copyAllowed(parsed.body, target);
  }

  // ---- NER -------------------------------------------------------------------------------------
  async function submitNer(event) {
    event.preventDefault();
    const error = byId("ner-error");
    const summary = byId("ner-summary");
    const result = byId("ner-result");
    hide(error);
    hide(summary);
    result.textContent = "";
    setBusy("ner", true);
    const reply = await callApi("ner/render", { text: byId("ner-text").value });
    setBusy("ner", false);
    if (!reply.ok) {
      showError(error, reply.status, reply.data.error);
      return;
    }
    renderMarkup(reply.data.html, result);
    const count = reply.data.entities.length;
    const model = reply.data.model;
    show(summary, count + (count === 1 ? " entity" : " entities") + " · " + model.name + " " + model.version);
  }

  // ---- QA --------------------------------------------------------------------------------------
  // Random or unsure models give tiny scores; keep two significant digits below 1%.
  function percent(score) {
    const value = score * 100;
    return (value >= 1 || value === 0 ? value.toFixed(1) : value.toPrecision(2)) + "%";
  }

  // The API's offsets count Unicode code points (Python str indices), not UTF-16 units.
  function highlightAnswers(context, answers, target) {
    const chars = Array.from(context);
    const spans = answers
      .map(function (answer, rank) {
        return { rank: rank, start: answer.start, end: answer.start + answer.length, score: answer.score };
      })
      .filter(function (span) { return span.end > span.start; });
    const cuts = new Set([0, chars.length]);
    for (const span of spans) {
      cuts.add(Math.min(span.start, chars.length));
      cuts.add(Math.min(span.end, chars.length));
    }
    const points = Array.from(cuts).sort(function (a, b) { return a - b; });
    target.textContent = "";
    for (let i = 0; i + 1 < points.length; i++) {
      const from = points[i];
      const to = points[i + 1];
      const text = chars.slice(from, to).join("");
      const covering = spans.filter(function (span) { return span.start <= from && to <= span.end; });
      if (covering.length === 0) {
        target.appendChild(document.createTextNode(text));
        continue;
      }
      const mark = document.createElement("mark");
      const best = Math.min.apply(null, covering.map(function (span) { return span.rank; }));
      mark.className = "answer" + (best === 0 ? " best" : "") + (covering.length > 1 ? " overlap" : "");
      mark.dataset.rank = String(best + 1);
      mark.title = covering
        .map(function (span) { return "answer " + (span.rank + 1) + " (" + percent(span.score) + ")"; })
        .join(", ");
      mark.textContent = text;
      target.appendChild(mark);
    }
  }

  function listAnswers(answers, noAnswer, target) {
    target.textContent = "";
    answers.forEach(function (answer, rank) {
      const item = document.createElement("li");
      item.className = "answer-item";
      const text = document.createElement("span");
      if (answer.length === 0) {
        text.className = "answer-text none";
        text.textContent = "no answer in the context";
      } else {
        text.className = "answer-text";
        text.textContent = answer.text;
      }
      const score = document.createElement("span");
      score.className = "score";
      score.textContent = percent(answer.score) + (answer.length ? " · at character " + answer.start : "");
      item.appendChild(text);
      item.appendChild(score);
      item.dataset.rank = String(rank + 1);
      item.dataset.score = String(answer.score);
      target.appendChild(item);
    });
    target.dataset.noAnswer = String(Boolean(noAnswer));
  }

  async function submitQa(event) {
    event.preventDefault();
    const error = byId("qa-error");
    const answersList = byId("qa-answers");
    const result = byId("qa-result");
    hide(error);
    answersList.textContent = "";
    result.textContent = "";
    const request = {
      question: byId("qa-question").value,
      context: byId("qa-context").value,
      top_k: Number(byId("qa-top-k").value) || 1,
      allow_no_answer: byId("qa-allow-no-answer").checked,
    };
    setBusy("qa", true);
    const reply = await callApi("qa", request);
    setBusy("qa", false);
    if (!reply.ok) {
      showError(error, reply.status, reply.data.error);
      return;
    }
    listAnswers(reply.data.answers, reply.data.no_answer, answersList);
    highlightAnswers(request.context, reply.data.answers, result);
  }

  // ---- start-up: which services does this URL serve? -------------------------------------------
  // A function answers {services, details}; the local front door answers
  // {functions: {name: {status_code, body: <that function's /health>}}}: merge those.
  function mergeHealth(data) {
    if (!data || !data.functions) {
      return { services: (data && data.services) || [], details: (data && data.details) || {} };
    }
    const services = [];
    const details = {};
    for (const name of Object.keys(data.functions)) {
      const reply = data.functions[name] || {};
      const body = reply.body;
      if (reply.status_code !== 200 || !body || typeof body !== "object") {
        details[name] = { status: "unavailable", error: "the " + name + " function did not answer /health (HTTP " + reply.status_code + ")" };
        services.push(name);
        continue;
      }
      for (const service of body.services || []) {
        if (!services.includes(service)) {
          services.push(service);
        }
        if (body.details && body.details[service]) {
          details[service] = body.details[service];
        }
      }
    }
    return { services: services, details: details };
  }

  async function start() {
    byId("ner-form").addEventListener("submit", submitNer);
    byId("qa-form").addEventListener("submit", submitQa);
    const status = byId("status");
    const reply = await callApi("health");
    if (!reply.ok) {
      status.classList.add("error");
      status.textContent = "Could not read /health (" + reply.data.error.message + "). The forms below may still work.";
      document.body.dataset.ready = "true";
      return;
    }
    const health = mergeHealth(reply.data);
    const served = health.services;
    const details = health.details;
    for (const name of Object.keys(SERVICES)) {
      const panel = byId(name + "-panel");
      if (!served.includes(name)) {
        disablePanel(
          name,
          "This URL does not serve " + SERVICES[name].title + " (" + SERVICES[name].route + "). " +
            "Open the page through the local front door (make run, then http://127.0.0.1:8000/) " +
            "or on the " + name + " function's URL."
        );
      } else if (details[name] && details[name].status !== "ok") {
        disablePanel(
          name,
          "The " + SERVICES[name].title + " model is not available: " +
            (details[name].error || "it did not load") + "."
        );
      } else {
        panel.dataset.state = "ready";
      }
    }
    status.textContent = "This URL serves: " + (served.length ? served.join(", ") : "nothing") + ".";
    document.body.dataset.ready = "true";
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
