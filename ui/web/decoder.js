// CVAE Lab's decoder in the visitor's browser: p(x | z, y) as Bernoulli means, from one bytes buffer in safetensors
// layout (cvae_core/storage/webmodel.py writes it: an 8-byte header length, a JSON header naming each tensor's dtype,
// shape and byte range and, under __metadata__.cvae_web, the model's description; then the tensors, float16).
//
// A classic script that defines one global, CVAEDecoder, so that the same text serves the Generate component (inlined
// in its module), the offline page (a <script>) and the tests (evaluated in Chromium). Plain JavaScript over typed
// arrays: an MLP decoder is about 0.7 M multiply-adds a digit, the conv decoder about 3.4 M.
var CVAEDecoder = (function () {
  "use strict";

  // ---- float16, decoded by hand (not every phone has Float16Array) ----------------------------------------------
  var HALF = new Float32Array(65536);
  (function fill() {
    for (var h = 0; h < 65536; h++) {
      var sign = h & 0x8000 ? -1 : 1, exponent = (h >> 10) & 0x1f, fraction = h & 0x3ff;
      if (exponent === 0) HALF[h] = sign * Math.pow(2, -14) * (fraction / 1024);
      else if (exponent === 31) HALF[h] = fraction ? NaN : sign * Infinity;
      else HALF[h] = sign * Math.pow(2, exponent - 15) * (1 + fraction / 1024);
    }
  })();

  function asBytes(data) {
    if (data instanceof Uint8Array) return data;
    if (data instanceof ArrayBuffer) return new Uint8Array(data);
    if (ArrayBuffer.isView(data)) return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
    throw new Error("a model is a bytes buffer");
  }

  // The buffer as {meta, tensors: name -> {shape, data: Float32Array}}. Each tensor is copied into a buffer of its own
  // (the wire's byte offsets need not be aligned for typed views).
  function parseModel(data) {
    var bytes = asBytes(data);
    if (bytes.length < 8) throw new Error("not a model: too short");
    var view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    var headerLength = view.getUint32(0, true) + view.getUint32(4, true) * 4294967296;
    if (headerLength <= 0 || 8 + headerLength > bytes.length) throw new Error("not a model: no header");
    var header = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + headerLength)));
    var meta = JSON.parse(header.__metadata__.cvae_web);
    var start = header.__metadata__.cvae_start ? JSON.parse(header.__metadata__.cvae_start) : null; // where a page opens
    var dataStart = 8 + headerLength, tensors = {};
    Object.keys(header).forEach(function (name) {
      if (name === "__metadata__") return;
      var entry = header[name], begin = dataStart + entry.data_offsets[0], end = dataStart + entry.data_offsets[1];
      var raw = bytes.slice(begin, end); // a copy: aligned
      var out;
      if (entry.dtype === "F16") {
        var halves = new Uint16Array(raw.buffer, 0, raw.length / 2);
        out = new Float32Array(halves.length);
        for (var i = 0; i < halves.length; i++) out[i] = HALF[halves[i]];
      } else if (entry.dtype === "F32") {
        out = new Float32Array(raw.buffer, 0, raw.length / 4);
      } else {
        throw new Error("unsupported dtype " + entry.dtype);
      }
      tensors[name] = { shape: entry.shape, data: out };
    });
    return { meta: meta, tensors: tensors, start: start };
  }

  // ---- layers ---------------------------------------------------------------------------------------------------
  function silu(x) {
    for (var i = 0; i < x.length; i++) x[i] = x[i] / (1 + Math.exp(-x[i]));
    return x;
  }

  function concat(a, b) {
    if (!b || !b.length) return a;
    var out = new Float32Array(a.length + b.length);
    out.set(a, 0);
    out.set(b, a.length);
    return out;
  }

  // y = W x + b, W (out, in) row-major, as torch.nn.Linear.
  function linear(model, prefix, x) {
    var w = model.tensors[prefix + ".weight"], b = model.tensors[prefix + ".bias"];
    var rows = w.shape[0], cols = w.shape[1], W = w.data, out = new Float32Array(rows);
    if (cols !== x.length) throw new Error(prefix + " expects " + cols + " inputs, got " + x.length);
    for (var r = 0; r < rows; r++) {
      var sum = b.data[r], base = r * cols;
      for (var c = 0; c < cols; c++) sum += W[base + c] * x[c];
      out[r] = sum;
    }
    return out;
  }

  // nets.ConditionalMLP: the condition joined to the input of every layer, SiLU between layers.
  function conditionalMLP(model, prefix, h, cond, layers) {
    for (var i = 0; i < layers; i++) h = silu(linear(model, prefix + ".hidden." + i, concat(h, cond)));
    return linear(model, prefix + ".out", concat(h, cond));
  }

  // torch.nn.ConvTranspose2d(kernel 4, stride 2, padding 1): (C_in, H, W) -> (C_out, 2H, 2W). Weight (C_in, C_out, 4, 4).
  function convTranspose(model, prefix, x, channelsIn, side) {
    var w = model.tensors[prefix + ".weight"], b = model.tensors[prefix + ".bias"];
    var channelsOut = w.shape[1], outSide = side * 2, W = w.data, out = new Float32Array(channelsOut * outSide * outSide);
    for (var o = 0; o < channelsOut; o++) out.fill(b.data[o], o * outSide * outSide, (o + 1) * outSide * outSide);
    for (var ci = 0; ci < channelsIn; ci++) {
      for (var iy = 0; iy < side; iy++) {
        for (var ix = 0; ix < side; ix++) {
          var v = x[(ci * side + iy) * side + ix];
          if (v === 0) continue;
          for (var co = 0; co < channelsOut; co++) {
            var kBase = (ci * channelsOut + co) * 16, oBase = co * outSide * outSide;
            for (var ky = 0; ky < 4; ky++) {
              var oy = iy * 2 - 1 + ky;
              if (oy < 0 || oy >= outSide) continue;
              for (var kx = 0; kx < 4; kx++) {
                var ox = ix * 2 - 1 + kx;
                if (ox < 0 || ox >= outSide) continue;
                out[oBase + oy * outSide + ox] += v * W[kBase + ky * 4 + kx];
              }
            }
          }
        }
      }
    }
    return out;
  }

  // ---- the model ------------------------------------------------------------------------------------------------
  // A label as the decoder reads it: a one-hot, or a soft label (a mix of one-hots) for interpolating between labels.
  function oneHot(n, k) {
    var y = new Float32Array(n);
    y[k] = 1;
    return y;
  }

  function softLabel(n, first, last, t) {
    var y = new Float32Array(n);
    y[first] += 1 - t;
    y[last] += t;
    return y;
  }

  // p(z | y) = N(mu, sigma^2) of a learned prior (cvae1, cvae4: a Linear on the label), or null for N(0, I).
  function prior(model, y) {
    if (model.meta.prior !== "learned") return null;
    var both = linear(model, "prior", y), d = model.meta.latent_dim;
    var mu = both.slice(0, d), sigma = new Float32Array(d);
    for (var i = 0; i < d; i++) sigma[i] = Math.exp(0.5 * both[d + i]);
    return { mu: mu, sigma: sigma };
  }

  // z = mu + temperature * sigma * noise (temperature * noise under N(0, I)): the dials are noise, in prior sigmas.
  function latent(model, noise, y, temperature) {
    var p = y && model.meta.uses_label ? prior(model, y) : null, z = new Float32Array(noise.length);
    for (var i = 0; i < noise.length; i++) z[i] = p ? p.mu[i] + temperature * p.sigma[i] * noise[i] : temperature * noise[i];
    return z;
  }

  // The 784 Bernoulli means of p(x | z, y).
  function decode(model, z, y) {
    var m = model.meta, cond = m.decoder_reads_label && y ? y : null, logits;
    if (m.arch === "conv") {
      var h = silu(conditionalMLP(model, "decoder.head", z, cond, 1));
      h = silu(convTranspose(model, "decoder.deconv.2", h, 64, 7));
      logits = convTranspose(model, "decoder.deconv.4", h, 32, 14);
    } else {
      logits = conditionalMLP(model, "decoder", z, cond, m.layers);
    }
    for (var i = 0; i < logits.length; i++) logits[i] = 1 / (1 + Math.exp(-logits[i]));
    return logits;
  }

  // One digit for a style (noise, in prior sigmas), a label (one-hot or soft; null for the unconditional VAE) and a
  // temperature: what model.draw / model.generate compute in Python.
  function draw(model, noise, y, temperature) {
    return decode(model, latent(model, noise, y, temperature), y);
  }

  // Paint 784 means into a canvas, ink white on black as the app shows digits, each pixel `scale` wide.
  function paint(canvas, means, scale) {
    var side = 28, ctx = canvas.getContext("2d");
    if (canvas.width !== side * scale) canvas.width = canvas.height = side * scale;
    var image = ctx.createImageData(side, side);
    for (var i = 0; i < side * side; i++) {
      var v = Math.max(0, Math.min(255, Math.round(means[i] * 255)));
      image.data[4 * i] = image.data[4 * i + 1] = image.data[4 * i + 2] = v;
      image.data[4 * i + 3] = 255;
    }
    if (!paint.scratch) paint.scratch = document.createElement("canvas");
    var scratch = paint.scratch;
    scratch.width = scratch.height = side;
    scratch.getContext("2d").putImageData(image, 0, 0);
    ctx.imageSmoothingEnabled = false;
    ctx.drawImage(scratch, 0, 0, side * scale, side * scale);
  }

  // A standard normal draw from a seeded generator (mulberry32 and Box-Muller): Randomise in the browser.
  function normals(seed, n) {
    var a = seed >>> 0, out = new Float32Array(n);
    function uniform() {
      a = (a + 0x6d2b79f5) >>> 0;
      var t = a;
      t = Math.imul(t ^ (t >>> 15), t | 1);
      t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
      return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
    }
    for (var i = 0; i < n; i++) out[i] = Math.sqrt(-2 * Math.log(1 - uniform())) * Math.cos(2 * Math.PI * uniform());
    return out;
  }

  return { parseModel: parseModel, prior: prior, latent: latent, decode: decode, draw: draw, oneHot: oneHot,
           softLabel: softLabel, paint: paint, normals: normals };
})();
