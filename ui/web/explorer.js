// The Generate page's explorer, drawn and decoded in the visitor's browser (CVAEDecoder, inlined before this text):
// the digit, a dial per latent dimension (up to MAX_DIALS; the rest keep their last random draw), label pills,
// temperature, Randomise and Reset, and the two interpolations. Nothing reaches the server while a control moves; once
// the visitor stops (DEBOUNCE_MS after the last change) the state goes back once (setStateValue("view", ...)), so that
// links and the rest of the page follow. The texts come from the page, in the visitor's language (TEXTS, replaced by
// ui/decoder_view.py when the component is registered).
const TEXTS = __TEXTS__;
const DEBOUNCE_MS = 400;
const MAX_DIALS = 16;
const FRAMES = 10;
const instances = new WeakMap();

function element(tag, attributes, parent) {
  const node = document.createElement(tag);
  Object.entries(attributes || {}).forEach(([name, value]) => {
    if (name === "text") node.textContent = value;
    else node.setAttribute(name, value);
  });
  if (parent) parent.appendChild(node);
  return node;
}

function sameBytes(a, b) {
  if (!a || !b || a.byteLength !== b.byteLength) return false;
  const x = new Uint8Array(a.buffer || a, a.byteOffset || 0, a.byteLength), y = new Uint8Array(b.buffer || b, b.byteOffset || 0, b.byteLength);
  for (let i = 0; i < x.length; i += Math.max(1, Math.floor(x.length / 4096))) if (x[i] !== y[i]) return false;
  return true;
}

class Explorer {
  constructor(root, bytes, setStateValue) {
    this.root = root;
    this.bytes = bytes;
    this.setStateValue = setStateValue;
    this.model = CVAEDecoder.parseModel(bytes);
    const meta = this.model.meta;
    this.names = meta.classes;
    const view = this.model.start || {}; // the page's settings at mount (a link's), never echoed back into the data
    this.noise = Float32Array.from({ length: meta.latent_dim }, (_, i) => (view.z && i < view.z.length ? Number(view.z[i]) : 0));
    this.label = meta.uses_label ? Math.min(Math.max(0, view.label ?? Math.min(3, meta.n_classes - 1)), meta.n_classes - 1) : null;
    this.temperature = view.temperature ?? 1.0;
    this.from = view.from ?? Math.min(1, meta.n_classes - 1);
    this.to = view.to ?? Math.min(7, meta.n_classes - 1);
    this.styleSeed = view.style_seed ?? 1;
    this.timings = [];
    Explorer.made = (Explorer.made || 0) + 1; // how many times a page built one (the tests check a report does not rebuild it)
    this.build();
    this.redraw();
  }

  build() {
    const meta = this.model.meta;
    this.root.replaceChildren();
    const wrap = element("div", { class: "explorer" }, this.root);
    const left = element("div", { class: "digit-column" }, wrap);
    this.canvas = element("canvas", { class: "digit", role: "img", width: 280, height: 280 }, left);
    this.caption = element("div", { class: "caption", "aria-live": "polite" }, left);
    const right = element("div", { class: "controls" }, wrap);
    if (meta.uses_label) {
      element("div", { class: "heading", id: "label-heading", text: TEXTS.label }, right);
      const pills = element("div", { class: "pills", role: "radiogroup", "aria-labelledby": "label-heading" }, right);
      this.pills = this.names.map((name, k) => {
        const pill = element("button", { type: "button", class: "pill", role: "radio", text: name }, pills);
        pill.addEventListener("click", () => this.change(() => (this.label = k)));
        pill.addEventListener("keydown", (event) => {
          const step = { ArrowRight: 1, ArrowDown: 1, ArrowLeft: -1, ArrowUp: -1 }[event.key];
          if (step) {
            event.preventDefault();
            const next = (k + step + this.names.length) % this.names.length;
            this.change(() => (this.label = next));
            this.pills[next].focus();
          }
        });
        return pill;
      });
    } else {
      element("div", { class: "note", text: TEXTS.no_label }, right);
    }
    this.temperatureInput = this.slider(right, TEXTS.temperature, 0, 2, 0.05, this.temperature, (v) => (this.temperature = v), TEXTS.temperature_help, true);
    const buttons = element("div", { class: "buttons" }, right);
    const randomise = element("button", { type: "button", class: "button", text: TEXTS.randomise, title: TEXTS.randomise_help }, buttons);
    randomise.addEventListener("click", () => this.change(() => (this.noise = CVAEDecoder.normals((Math.random() * 4294967296) >>> 0, meta.latent_dim))));
    const reset = element("button", { type: "button", class: "button", text: TEXTS.reset, title: TEXTS.reset_help }, buttons);
    reset.addEventListener("click", () => this.change(() => this.noise.fill(0)));
    const shown = Math.min(meta.latent_dim, MAX_DIALS);
    element("div", { class: "heading", text: meta.latent_dim > shown ? TEXTS.dials_some.replace("{shown}", shown).replace("{dimensions}", meta.latent_dim) : TEXTS.dials }, right);
    const dials = element("div", { class: "dials" }, right);
    this.dials = [];
    for (let i = 0; i < shown; i++) {
      this.dials.push(this.slider(dials, "z" + (i + 1), -3, 3, 0.1, this.noise[i], (v) => (this.noise[i] = v), TEXTS.dial_help));
    }
    const between = element("div", { class: "between" }, this.root);
    if (meta.uses_label) {
      element("div", { class: "heading", text: TEXTS.between_labels }, between);
      const ends = element("div", { class: "ends" }, between);
      this.fromSelect = this.select(ends, TEXTS.from_label, this.from, (v) => (this.from = v));
      this.toSelect = this.select(ends, TEXTS.to_label, this.to, (v) => (this.to = v));
      this.labelStrip = element("canvas", { class: "strip", role: "img" }, between);
    }
    element("div", { class: "heading", text: TEXTS.between_styles }, between);
    const seedRow = element("label", { class: "seed", text: TEXTS.styles_seed + " " }, between);
    this.seedInput = element("input", { type: "number", min: 0, max: 10000, step: 1, value: this.styleSeed }, seedRow);
    this.seedInput.addEventListener("input", () => this.change(() => (this.styleSeed = Math.max(0, Math.min(10000, Number(this.seedInput.value) || 0)))));
    this.styleStrip = element("canvas", { class: "strip", role: "img" }, between);
  }

  slider(parent, name, min, max, step, value, set, help, wide) {
    const row = element("label", { class: wide ? "dial wide" : "dial", title: help || "" }, parent);
    element("span", { class: "dial-name", text: name }, row);
    const input = element("input", { type: "range", min, max, step, value, "aria-label": name }, row);
    const shown = element("span", { class: "dial-value", text: Number(value).toFixed(step < 0.1 ? 2 : 1) }, row);
    input.addEventListener("keydown", () => (this.pressed = { at: performance.now(), frames: this.frames }));
    input.addEventListener("pointerdown", () => (this.pressed = { at: performance.now(), frames: this.frames }));
    input.addEventListener("input", () => {
      shown.textContent = Number(input.value).toFixed(step < 0.1 ? 2 : 1);
      this.change(() => set(Number(input.value)));
    });
    input.addEventListener("pointerup", () => this.report(0)); // released after a drag: report at once
    return { input, shown };
  }

  select(parent, name, value, set) {
    const row = element("label", { class: "end", text: name + " " }, parent);
    const input = element("select", {}, row);
    this.names.forEach((label, k) => element("option", { value: k, text: label }, input));
    input.value = value;
    input.addEventListener("change", () => this.change(() => set(Number(input.value))));
    return input;
  }

  // Apply a change, draw the digit now (in this event: the next frame shows it), the strips when the browser is idle.
  change(apply) {
    apply();
    this.redraw();
    this.report(DEBOUNCE_MS);
  }

  redraw() {
    const meta = this.model.meta, began = performance.now();
    const y = meta.uses_label ? CVAEDecoder.oneHot(meta.n_classes, this.label) : null;
    const means = CVAEDecoder.draw(this.model, this.noise, y, this.temperature);
    CVAEDecoder.paint(this.canvas, means, 10);
    const drawn = performance.now();
    this.canvas.setAttribute("aria-label", this.describe());
    this.caption.textContent = meta.uses_label ? TEXTS.caption_label.replace("{label}", this.names[this.label]) : TEXTS.caption_no_label;
    (this.pills || []).forEach((pill, k) => {
      pill.setAttribute("aria-checked", String(k === this.label));
      pill.tabIndex = k === this.label ? 0 : -1;
    });
    this.dials.forEach((dial, i) => {
      if (Number(dial.input.value) !== this.noise[i]) {
        dial.input.value = this.noise[i];
        dial.shown.textContent = this.noise[i].toFixed(1);
      }
    });
    if (this.pressed) {
      const pressed = this.pressed;
      this.pressed = null;
      const framesAtPaint = this.frames;
      requestAnimationFrame(() => {
        this.timings.push({ pressed: pressed.at, decoded: drawn - began, frame: performance.now(), late_frames: framesAtPaint - pressed.frames });
        if (this.timings.length > 1000) this.timings.shift();
      });
    }
    clearTimeout(this.stripTimer);
    this.stripTimer = setTimeout(() => this.drawStrips(), 30);
  }

  drawStrips() {
    const meta = this.model.meta, scale = 2;
    const strip = (canvas, digits, description) => {
      canvas.width = FRAMES * 28 * scale;
      canvas.height = 28 * scale;
      const one = document.createElement("canvas");
      digits.forEach((means, i) => {
        CVAEDecoder.paint(one, means, scale);
        canvas.getContext("2d").drawImage(one, i * 28 * scale, 0);
      });
      canvas.setAttribute("aria-label", description);
    };
    if (meta.uses_label && this.labelStrip) {
      const digits = [];
      for (let f = 0; f < FRAMES; f++) {
        const y = CVAEDecoder.softLabel(meta.n_classes, this.from, this.to, f / (FRAMES - 1));
        digits.push(CVAEDecoder.draw(this.model, this.noise, y, this.temperature));
      }
      strip(this.labelStrip, digits, TEXTS.strip_labels.replace("{from}", this.names[this.from]).replace("{to}", this.names[this.to]));
    }
    const a = CVAEDecoder.normals(this.styleSeed * 2 + 1, meta.latent_dim), b = CVAEDecoder.normals(this.styleSeed * 2 + 2, meta.latent_dim);
    const y = meta.uses_label ? CVAEDecoder.oneHot(meta.n_classes, this.label) : null, digits = [];
    for (let f = 0; f < FRAMES; f++) {
      const t = f / (FRAMES - 1), noise = a.map((v, i) => (1 - t) * v + t * b[i]);
      digits.push(CVAEDecoder.draw(this.model, noise, y, this.temperature));
    }
    strip(this.styleStrip, digits, TEXTS.strip_styles);
  }

  describe() {
    const meta = this.model.meta, first = Array.from(this.noise.slice(0, 3), (v) => v.toFixed(1)).join(", ");
    const what = meta.uses_label ? TEXTS.alt_label.replace("{label}", this.names[this.label]) : TEXTS.alt_no_label;
    return what + " " + TEXTS.alt_style.replace("{z}", first).replace("{temperature}", this.temperature.toFixed(2));
  }

  report(delay) {
    clearTimeout(this.reportTimer);
    this.reportTimer = setTimeout(() => {
      this.setStateValue("view", {
        z: Array.from(this.noise, (v) => Math.round(v * 1000) / 1000), label: this.label, temperature: this.temperature,
        from: this.from, to: this.to, style_seed: this.styleSeed,
      });
    }, delay);
  }
}

function countFrames(instance) {
  instance.frames = 0;
  const tick = () => {
    instance.frames++;
    if (instance.root.isConnected) requestAnimationFrame(tick);
  };
  requestAnimationFrame(tick);
}

export default function (component) {
  const { data, parentElement, setStateValue } = component;
  const kept = instances.get(parentElement);
  if (kept && sameBytes(kept.bytes, data)) {
    kept.setStateValue = setStateValue;
    return;
  }
  const root = parentElement.querySelector(".explorer-root") || element("div", { class: "explorer-root" }, parentElement);
  try {
    const explorer = new Explorer(root, data, setStateValue);
    instances.set(parentElement, explorer);
    countFrames(explorer);
    window.__cvaeExplorer = explorer; // the browser tests and bench/ read it
  } catch (error) {
    root.textContent = TEXTS.failed + " (" + error.message + ")";
  }
}
