// Latent space of a 2-D model, drawn and decoded in the visitor's browser (CVAEDecoder, inlined before this text):
// the test digits' codes as dots coloured by label, the digit the model draws at the pointer (or at a crosshair the
// arrow keys move), and the decoded plane for a label. Clicking a dot tells the page which test digit it is
// (setTriggerValue("picked", index)); nothing else reaches the server. TEXTS, MARKERS and COLOURS come from the page
// (ui/palette.py): each class's [colour, shape], so that beyond ten classes colour is not the only cue; the priors'
// outlines and the cursor.
const TEXTS = __TEXTS__;
const MARKERS = __MARKERS__;
const COLOURS = __COLOURS__;

function markerOf(k) {
  return MARKERS[k % MARKERS.length];
}

// A dot of radius r at (x, y) in a marker's shape: "circle", "square" or "diamond".
function dot(ctx, shape, x, y, r) {
  ctx.beginPath();
  if (shape === "square") {
    ctx.rect(x - r, y - r, 2 * r, 2 * r);
  } else if (shape === "diamond") {
    ctx.moveTo(x, y - r * 1.3); ctx.lineTo(x + r * 1.3, y); ctx.lineTo(x, y + r * 1.3); ctx.lineTo(x - r * 1.3, y); ctx.closePath();
  } else {
    ctx.arc(x, y, r, 0, 2 * Math.PI);
  }
  ctx.fill();
}
const SIDE = 440;
const planes = new WeakMap();

function make(tag, attributes, parent) {
  const node = document.createElement(tag);
  Object.entries(attributes || {}).forEach(([name, value]) => (name === "text" ? (node.textContent = value) : node.setAttribute(name, value)));
  if (parent) parent.appendChild(node);
  return node;
}

class Plane {
  constructor(root, bytes, setTriggerValue) {
    this.bytes = bytes;
    this.setTriggerValue = setTriggerValue;
    this.model = CVAEDecoder.parseModel(bytes);
    const meta = this.model.meta, start = this.model.start || {};
    this.points = start.points || { x: [], y: [], labels: [] };
    this.label = meta.uses_label ? Math.min(start.label ?? 4, meta.n_classes - 1) : null;
    this.steps = start.steps ?? 12;
    this.span = start.span ?? 2.5;
    const xs = this.points.x, ys = this.points.y;
    this.reach = Math.max(3, ...xs.map(Math.abs), ...ys.map(Math.abs)) * 1.05;
    this.cursor = [0, 0];
    root.replaceChildren();
    const wrap = make("div", { class: "plane" }, root);
    this.scatter = make("canvas", { class: "scatter", width: SIDE, height: SIDE, tabindex: 0, role: "img", "aria-label": TEXTS.scatter }, wrap);
    const side = make("div", { class: "pointer" }, wrap);
    this.digit = make("canvas", { class: "digit", role: "img" }, side);
    this.where = make("div", { class: "caption", "aria-live": "polite" }, side);
    make("div", { class: "legend-note", text: TEXTS.keys }, side);
    const legend = make("ul", { class: "legend", "aria-label": TEXTS.legend }, side);
    meta.classes.forEach((name, k) => {
      const item = make("li", {}, legend);
      const [colour, shape] = markerOf(k);
      make("span", { class: "swatch " + shape, style: "background:" + colour }, item);
      item.appendChild(document.createTextNode(name));
    });
    const grid = make("div", { class: "grid-controls" }, root);
    if (meta.uses_label) {
      const row = make("label", { text: TEXTS.label + " " }, grid);
      const pick = make("select", {}, row);
      meta.classes.forEach((name, k) => make("option", { value: k, text: name }, pick));
      pick.value = this.label;
      pick.addEventListener("change", () => { this.label = Number(pick.value); this.drawAll(); });
    }
    const range = (name, min, max, step, value, set) => {
      const row = make("label", { text: name + " " }, grid);
      const input = make("input", { type: "range", min, max, step, value, "aria-label": name }, row);
      const shown = make("span", { text: String(value) }, row);
      input.addEventListener("input", () => { set(Number(input.value)); shown.textContent = input.value; this.drawGrid(); });
    };
    range(TEXTS.grid_size, 5, 20, 1, this.steps, (v) => (this.steps = v));
    range(TEXTS.extent, 1, 4, 0.5, this.span, (v) => (this.span = v));
    this.grid = make("canvas", { class: "decoded-plane", role: "img" }, root);
    const at = (event) => {
      const box = this.scatter.getBoundingClientRect();
      return [((event.clientX - box.left) / box.width * 2 - 1) * this.reach, -((event.clientY - box.top) / box.height * 2 - 1) * this.reach];
    };
    this.scatter.addEventListener("pointermove", (event) => { this.cursor = at(event); this.drawPointer(); });
    this.scatter.addEventListener("click", (event) => this.pick(at(event)));
    this.scatter.addEventListener("keydown", (event) => {
      const step = this.reach / 40, move = { ArrowLeft: [-step, 0], ArrowRight: [step, 0], ArrowUp: [0, step], ArrowDown: [0, -step] }[event.key];
      if (move) {
        event.preventDefault();
        this.cursor = [this.cursor[0] + move[0], this.cursor[1] + move[1]];
        this.drawPointer();
      } else if (event.key === "Enter" || event.key === " ") {
        event.preventDefault();
        this.pick(this.cursor, true);  // the nearest digit however far: a keyboard cannot aim at a dot as a pointer does
      }
    });
    this.drawAll();
  }

  toCanvas(x, y) {
    return [(x / this.reach + 1) / 2 * SIDE, (1 - y / this.reach) / 2 * SIDE];
  }

  y() {
    return this.model.meta.uses_label ? CVAEDecoder.oneHot(this.model.meta.n_classes, this.label) : null;
  }

  drawScatter() {
    const ctx = this.scatter.getContext("2d"), { x, y, labels } = this.points;
    ctx.fillStyle = getComputedStyle(this.scatter).backgroundColor || "#fff";
    ctx.clearRect(0, 0, SIDE, SIDE);
    ctx.strokeStyle = "rgba(128,128,128,0.5)";
    ctx.beginPath();
    ctx.moveTo(SIDE / 2, 0); ctx.lineTo(SIDE / 2, SIDE); ctx.moveTo(0, SIDE / 2); ctx.lineTo(SIDE, SIDE / 2);
    ctx.stroke();
    for (let i = 0; i < x.length; i++) {
      const [px, py] = this.toCanvas(x[i], y[i]);
      const [colour, shape] = markerOf(labels[i]);
      ctx.fillStyle = colour;
      ctx.globalAlpha = 0.8;
      dot(ctx, shape, px, py, 2.2);
    }
    ctx.globalAlpha = 1;
    const priors = this.model.start && this.model.start.priors;
    if (priors) {  // p(z|y) of each label: an ellipse at two standard deviations
      ctx.strokeStyle = COLOURS.neutral;
      priors.mu.forEach((mu, k) => {
        const [ex, ey] = this.toCanvas(mu[0], mu[1]);
        ctx.beginPath();
        ctx.ellipse(ex, ey, (2 * priors.sigma[k][0] / this.reach) * SIDE / 2, (2 * priors.sigma[k][1] / this.reach) * SIDE / 2, 0, 0, 2 * Math.PI);
        ctx.stroke();
      });
    }
    const [cx, cy] = this.toCanvas(...this.cursor);
    ctx.strokeStyle = COLOURS.cursor;
    ctx.lineWidth = 2;
    ctx.strokeRect(cx - 6, cy - 6, 12, 12);
    ctx.lineWidth = 1;
  }

  // The digit at the pointer: z is the pointer's place in the plane of codes, decoded with the chosen label.
  drawPointer() {
    const z = Float32Array.from(this.cursor);
    CVAEDecoder.paint(this.digit, CVAEDecoder.decode(this.model, z, this.y()), 5);
    const text = TEXTS.at.replace("{z1}", this.cursor[0].toFixed(2)).replace("{z2}", this.cursor[1].toFixed(2));
    this.where.textContent = text;
    this.digit.setAttribute("aria-label", text);
    this.drawScatter();
  }

  // The plane decoded on a steps x steps grid reaching `span` prior sigmas from the prior's centre (model.decoded_plane).
  drawGrid() {
    const n = this.steps, scale = 2, cell = 28 * scale, y = this.y(), one = document.createElement("canvas");
    this.grid.width = this.grid.height = n * cell;
    const ctx = this.grid.getContext("2d");
    for (let r = 0; r < n; r++) {
      for (let c = 0; c < n; c++) {
        const noise = Float32Array.of(-this.span + (2 * this.span * c) / (n - 1), this.span - (2 * this.span * r) / (n - 1));
        CVAEDecoder.paint(one, CVAEDecoder.draw(this.model, noise, y, 1.0), scale);
        ctx.drawImage(one, c * cell, r * cell);
      }
    }
    const label = this.model.meta.uses_label ? this.model.meta.classes[this.label] : "";
    this.grid.setAttribute("aria-label", TEXTS.grid.replace("{n}", n).replace("{label}", label));
  }

  drawAll() {
    this.drawPointer();
    this.drawGrid();
  }

  // The test digit nearest the place clicked, if one is near (any distance from the keyboard): the page shows it and its
  // reconstruction.
  pick(place, anywhere = false) {
    const { x, y } = this.points;
    let best = -1, distance = anywhere ? Infinity : (this.reach / 30) ** 2;
    for (let i = 0; i < x.length; i++) {
      const d = (x[i] - place[0]) ** 2 + (y[i] - place[1]) ** 2;
      if (d < distance) [best, distance] = [i, d];
    }
    if (best >= 0) this.setTriggerValue("picked", best);
  }
}

export default function (component) {
  const { data, parentElement, setTriggerValue } = component;
  const kept = planes.get(parentElement);
  if (kept && kept.bytes.byteLength === data.byteLength) {
    kept.setTriggerValue = setTriggerValue;
    return;
  }
  const root = parentElement.querySelector(".plane-root") || make("div", { class: "plane-root" }, parentElement);
  try {
    const plane = new Plane(root, data, setTriggerValue);
    planes.set(parentElement, plane);
    window.__cvaePlane = plane; // the browser tests read it
  } catch (error) {
    root.textContent = TEXTS.failed + " (" + error.message + ")";
  }
}
