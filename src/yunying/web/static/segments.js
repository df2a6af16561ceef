/* Segment builder: edit the segment DSL (docs/segments.md) as nested groups and
 * condition rows, without writing JSON.
 *
 * The textarea #segment-definition (name="definition") is the source of truth that the
 * form posts and htmx previews; this script renders it as a tree and writes it back after
 * every change, then fires "yy-changed" so the live count refreshes. Editing the JSON by
 * hand re-renders the tree. Texts and choices come from the JSON in
 * #segment-builder-config (the CSP allows no inline script). User text is only ever set
 * through .value / .textContent, never as HTML.
 */
(function () {
  "use strict";

  var root, textarea, config, T, OPT, model;

  function el(tag, attrs, children) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) {
      if (k === "text") node.textContent = attrs[k];
      else if (k === "class") node.className = attrs[k];
      else node.setAttribute(k, attrs[k]);
    });
    (children || []).forEach(function (c) { if (c) node.appendChild(c); });
    return node;
  }

  function t(key) { return (T && T[key]) || key; }

  function changed() {
    textarea.value = JSON.stringify(serialize(model), null, 2);
    document.body.dispatchEvent(new CustomEvent("yy-changed", { bubbles: true }));
  }

  /* ---- model <-> JSON ---------------------------------------------------------------- */

  function parse(node) {
    if (node && node.op === "not") {
      var inner = parse(node.condition);
      inner._not = !inner._not;
      return inner;
    }
    if (node && (node.op === "and" || node.op === "or")) {
      return { op: node.op, conditions: (node.conditions || []).map(parse) };
    }
    return JSON.parse(JSON.stringify(node || defaults("behaviour")));
  }

  function serialize(node) {
    var out;
    if (node.op) {
      out = { op: node.op, conditions: node.conditions.map(serialize) };
    } else {
      out = {};
      Object.keys(node).forEach(function (k) { if (k !== "_not") out[k] = node[k]; });
      ["event"].forEach(function (k) { if (out[k] === "") out[k] = null; });
      if (out.event === null && (out.type === "first_did" || out.type === "funnel_step")) out.event = "";
      Object.keys(out).forEach(function (k) { if (out[k] === null) delete out[k]; });
    }
    return node._not ? { op: "not", condition: out } : out;
  }

  function defaults(type) {
    var win = { last_days: 30 };
    var segs = (OPT && OPT.segments) || [];
    switch (type) {
      case "behaviour": return { type: type, event: "", did: true, count: { comparator: "at_least", value: 1 }, window: win };
      case "event_property": return { type: type, event: "", key: "", operator: "eq", value: "", window: win };
      case "person_property": return { type: type, key: "", operator: "eq", value: "" };
      case "first_did": return { type: type, event: "", window: win };
      case "active_days": return { type: type, at_least: 3, last_days: 30, event: "" };
      case "funnel_step": return { type: type, steps: [{ event: "" }, { event: "" }], step: 2, conversion_window: 14, window: win };
      case "in_segment": return { type: type, segment_id: segs.length ? segs[0].id : 0 };
      case "layer": return { type: type, scheme: "activity", values: ["core"] };
      case "score": return { type: type, name: "churn_risk", operator: "gte", value: 0.5 };
    }
    return { type: "behaviour" };
  }

  /* ---- inputs ------------------------------------------------------------------------ */

  function labelled(text, input) {
    return el("label", { class: "builder-field" }, [el("span", { text: text }), input]);
  }

  function textInput(obj, key, label, opts) {
    opts = opts || {};
    var input = el("input", { type: opts.type || "text", "data-field": key });
    if (opts.placeholder) input.placeholder = opts.placeholder;
    if (opts.min !== undefined) input.min = opts.min;
    var v = obj[key];
    input.value = v === null || v === undefined ? "" : (opts.show ? opts.show(v) : String(v));
    input.addEventListener("input", function () {
      obj[key] = opts.parse ? opts.parse(input.value) : input.value;
      changed();
    });
    return labelled(label, input);
  }

  function num(text) {
    var n = Number(text);
    return text.trim() === "" || isNaN(n) ? text : n;
  }

  function int(text) {
    var n = parseInt(text, 10);
    return isNaN(n) ? text : n;
  }

  function list(text) {
    return text.split(",").map(function (s) { return s.trim(); }).filter(function (s) { return s; });
  }

  function select(obj, key, label, choices, onChange) {
    var input = el("select", { "data-field": key });
    choices.forEach(function (c) {
      var o = el("option", { value: String(c[0]) });
      o.textContent = c[1];
      if (String(obj[key]) === String(c[0])) o.selected = true;
      input.appendChild(o);
    });
    input.addEventListener("change", function () {
      var raw = input.value;
      obj[key] = typeof obj[key] === "number" ? Number(raw) : raw;
      if (onChange) onChange(); else changed();
    });
    return labelled(label, input);
  }

  function ops(names, prefix) {
    return names.map(function (n) { return [n, t(prefix + n)]; });
  }

  function windowEditor(obj, redraw) {
    var w = obj.window || { last_days: 30 };
    obj.window = w;
    var state = { mode: w.last_days !== undefined ? "last" : "between" };
    var box = el("span", { class: "builder-window" });
    box.appendChild(select(state, "mode", t("window"), [["last", t("last_days")], ["between", t("between")]], function () {
      obj.window = state.mode === "last" ? { last_days: 30 } : { date_from: "", date_to: "" };
      changed();
      redraw();
    }));
    if (state.mode === "last") {
      box.appendChild(textInput(w, "last_days", t("days"), { type: "number", min: 1, parse: int }));
    } else {
      box.appendChild(textInput(w, "date_from", t("date_from"), { type: "date" }));
      box.appendChild(textInput(w, "date_to", t("date_to"), { type: "date" }));
    }
    return box;
  }

  function valueEditor(obj, redraw) {
    var op = obj.operator;
    if (op === "is_set" || op === "is_not_set") { delete obj.value; return null; }
    if (op === "in" || op === "not_in") {
      if (!Array.isArray(obj.value)) obj.value = obj.value ? [String(obj.value)] : [];
      return textInput(obj, "value", t("value"), { parse: list, show: function (v) { return v.join(", "); }, placeholder: t("values_help") });
    }
    if (Array.isArray(obj.value)) obj.value = obj.value.join(",");
    if (op === "gt" || op === "gte" || op === "lt" || op === "lte" || op === "within_last_days") {
      return textInput(obj, "value", op === "within_last_days" ? t("days") : t("value"), { type: "number", parse: num });
    }
    if (op === "before" || op === "after") {
      var state = { mode: obj.days_ago !== undefined ? "ago" : "date" };
      var box = el("span", { class: "builder-window" });
      box.appendChild(select(state, "mode", "", [["date", t("date")], ["ago", t("days_ago")]], function () {
        if (state.mode === "ago") { delete obj.value; obj.days_ago = 7; } else { delete obj.days_ago; obj.value = ""; }
        changed();
        redraw();
      }));
      box.appendChild(state.mode === "ago"
        ? textInput(obj, "days_ago", t("days_ago"), { type: "number", min: 0, parse: int })
        : textInput(obj, "value", t("date"), { type: "date" }));
      return box;
    }
    delete obj.days_ago;
    return textInput(obj, "value", t("value"));
  }

  function operatorEditor(obj, names, redraw) {
    return select(obj, "operator", t("type"), ops(names, "op."), function () { changed(); redraw(); });
  }

  function filtersEditor(obj, redraw) {
    obj.filters = obj.filters || [];
    var box = el("div", { class: "builder-filters" });
    obj.filters.forEach(function (f, i) {
      var row = el("div", { class: "builder-row", "data-testid": "builder-filter" });
      row.appendChild(textInput(f, "key", t("key")));
      row.appendChild(operatorEditor(f, OPT.event_operators, redraw));
      var v = valueEditor(f, redraw);
      if (v) row.appendChild(v);
      var rm = el("button", { type: "button", class: "btn btn-sm", text: t("remove") });
      rm.addEventListener("click", function () { obj.filters.splice(i, 1); changed(); redraw(); });
      row.appendChild(rm);
      box.appendChild(row);
    });
    var add = el("button", { type: "button", class: "btn btn-sm", text: t("add_filter"), "data-testid": "add-filter" });
    add.addEventListener("click", function () {
      obj.filters.push({ key: "", operator: "eq", value: "" });
      changed();
      redraw();
    });
    box.appendChild(add);
    return box;
  }

  /* ---- conditions -------------------------------------------------------------------- */

  function conditionFields(c, redraw) {
    var out = [];
    switch (c.type) {
      case "behaviour":
        out.push(select({ d: c.did === false ? "0" : "1" }, "d", t("did"), [["1", t("did")], ["0", t("did_not")]], null));
        out[0].querySelector("select").addEventListener("change", function (e) { c.did = e.target.value === "1"; changed(); });
        out.push(textInput(c, "event", t("event"), { placeholder: t("any_event") }));
        c.count = c.count || { comparator: "at_least", value: 1 };
        out.push(select(c.count, "comparator", t("times"), ops(OPT.comparators, "cmp.")));
        out.push(textInput(c.count, "value", t("times"), { type: "number", min: 0, parse: int }));
        out.push(windowEditor(c, redraw));
        out.push(filtersEditor(c, redraw));
        break;
      case "event_property":
        out.push(textInput(c, "event", t("event"), { placeholder: t("any_event") }));
        out.push(textInput(c, "key", t("key")));
        out.push(operatorEditor(c, OPT.event_operators, redraw));
        out.push(valueEditor(c, redraw));
        out.push(windowEditor(c, redraw));
        break;
      case "person_property":
        out.push(textInput(c, "key", t("key")));
        out.push(operatorEditor(c, OPT.person_operators, redraw));
        out.push(valueEditor(c, redraw));
        break;
      case "first_did":
        out.push(textInput(c, "event", t("event")));
        out.push(windowEditor(c, redraw));
        break;
      case "active_days":
        out.push(textInput(c, "at_least", t("at_least_days"), { type: "number", min: 1, parse: int }));
        out.push(textInput(c, "last_days", t("in_last_days"), { type: "number", min: 1, parse: int }));
        out.push(textInput(c, "event", t("event"), { placeholder: t("any_event") }));
        break;
      case "funnel_step":
        var steps = { text: (c.steps || []).map(function (s) { return s.event; }).join(", ") };
        var stepsInput = textInput(steps, "text", t("steps"), { placeholder: t("steps_help") });
        stepsInput.querySelector("input").addEventListener("input", function () {
          c.steps = list(steps.text).map(function (e) { return { event: e }; });
          changed();
        });
        out.push(stepsInput);
        out.push(textInput(c, "step", t("step"), { type: "number", min: 1, parse: int }));
        out.push(textInput(c, "conversion_window", t("conversion_window"), { type: "number", min: 1, parse: int }));
        out.push(windowEditor(c, redraw));
        break;
      case "in_segment":
        var choices = OPT.segments.map(function (s) { return [s.id, "#" + s.id + " " + s.name]; });
        if (!choices.length) choices = [[0, "–"]];
        out.push(select(c, "segment_id", t("segment"), choices));
        break;
      case "layer":
        out.push(textInput(c, "scheme", t("scheme")));
        out.push(textInput(c, "values", t("value"), {
          parse: list, show: function (v) { return v.join(", "); },
          placeholder: OPT.layers.map(function (l) { return l; }).join(", "),
        }));
        break;
      case "score":
        out.push(textInput(c, "name", t("score_name")));
        out.push(operatorEditor(c, OPT.score_operators, redraw));
        out.push(textInput(c, "value", t("value"), { type: "number", parse: num }));
        break;
    }
    return out;
  }

  function notToggle(node) {
    var box = el("input", { type: "checkbox", "data-testid": "builder-not" });
    box.checked = !!node._not;
    box.addEventListener("change", function () { node._not = box.checked; changed(); });
    return el("label", { class: "builder-not" }, [box, el("span", { text: t("negate") })]);
  }

  function renderCondition(c, path, onRemove, redraw) {
    var card = el("div", { class: "builder-condition", "data-testid": "builder-condition", "data-path": path });
    var head = el("div", { class: "builder-row" });
    head.appendChild(select(c, "type", t("type"), ops(OPT.types, "type."), function () {
      var fresh = defaults(c.type);
      var negated = c._not;
      Object.keys(c).forEach(function (k) { delete c[k]; });
      Object.assign(c, fresh);
      c._not = negated;
      changed();
      redraw();
    }));
    head.appendChild(notToggle(c));
    var rm = el("button", { type: "button", class: "btn btn-sm", text: t("remove"), "data-testid": "builder-remove" });
    rm.addEventListener("click", onRemove);
    head.appendChild(rm);
    card.appendChild(head);
    var body = el("div", { class: "builder-row" });
    conditionFields(c, redraw).forEach(function (f) { if (f) body.appendChild(f); });
    card.appendChild(body);
    return card;
  }

  function renderGroup(g, path, onRemove, redraw) {
    var box = el("div", { class: "builder-group", "data-testid": "builder-group", "data-path": path });
    var head = el("div", { class: "builder-row" });
    head.appendChild(select(g, "op", t("type"), [["and", t("match_all")], ["or", t("match_any")]]));
    head.appendChild(notToggle(g));
    if (onRemove) {
      var rm = el("button", { type: "button", class: "btn btn-sm", text: t("remove") });
      rm.addEventListener("click", onRemove);
      head.appendChild(rm);
    }
    box.appendChild(head);
    g.conditions.forEach(function (c, i) {
      var remove = function () {
        g.conditions.splice(i, 1);
        if (!g.conditions.length) g.conditions.push(defaults("behaviour"));
        changed();
        redraw();
      };
      var childPath = (path ? path + "." : "") + "conditions." + i;
      box.appendChild(c.op
        ? renderGroup(c, childPath, remove, redraw)
        : renderCondition(c, childPath, remove, redraw));
    });
    var actions = el("div", { class: "builder-row" });
    var addC = el("button", { type: "button", class: "btn btn-sm", text: t("add_condition"), "data-testid": "add-condition" });
    addC.addEventListener("click", function () { g.conditions.push(defaults("behaviour")); changed(); redraw(); });
    var addG = el("button", { type: "button", class: "btn btn-sm", text: t("add_group"), "data-testid": "add-group" });
    addG.addEventListener("click", function () {
      g.conditions.push({ op: g.op === "and" ? "or" : "and", conditions: [defaults("behaviour")] });
      changed();
      redraw();
    });
    actions.appendChild(addC);
    actions.appendChild(addG);
    box.appendChild(actions);
    return box;
  }

  function draw() {
    root.textContent = "";
    root.appendChild(renderGroup(model, "", null, draw));
  }

  function load() {
    var data;
    try {
      data = JSON.parse(textarea.value || "{}");
    } catch (err) {
      return false;
    }
    model = parse(data);
    if (!model.op) model = { op: "and", conditions: [model] };
    draw();
    return true;
  }

  document.addEventListener("DOMContentLoaded", function () {
    root = document.getElementById("segment-builder");
    textarea = document.getElementById("segment-definition");
    if (!root || !textarea) return;
    var source = document.getElementById(root.dataset.config);
    config = JSON.parse((source && source.textContent) || "{}");
    T = config.texts || {};
    OPT = config.options || {};
    if (!load()) {
      var details = textarea.closest("details");
      if (details) details.open = true;  // hand-written JSON that does not parse: show it
    }
    textarea.addEventListener("change", function () {
      if (load()) document.body.dispatchEvent(new CustomEvent("yy-changed", { bubbles: true }));
    });
  });
})();
