// Xtalk microphone capture: an AudioWorkletProcessor that converts the context's audio
// (usually 44.1 or 48 kHz float) to 16 kHz mono PCM16 and posts 512-sample frames.
//
// Resampling is band-limited: a Kaiser-windowed sinc low-pass (cut-off just below the
// output Nyquist frequency) evaluated at the exact fractional input position of every
// output sample, from a precomputed polyphase table. Integer ratios (48 kHz -> 16 kHz)
// therefore reduce to a plain decimating FIR filter, and other ratios (44.1 kHz) are
// handled without sample dropping or repetition.

"use strict";

const PHASES = 256; // fractional positions of the polyphase table
const ZERO_CROSSINGS = 16; // per side, in units of the output sample period
const KAISER_BETA = 8.6; // ~ -90 dB stop band
const PASSBAND = 0.92; // cut-off as a share of the output Nyquist frequency

function besselI0(x) {
  let sum = 1;
  let term = 1;
  const q = (x * x) / 4;
  for (let k = 1; k < 64; k++) {
    term *= q / (k * k);
    sum += term;
    if (term < sum * 1e-12) break;
  }
  return sum;
}

class Resampler {
  constructor(inRate, outRate) {
    this.step = inRate / outRate; // input samples per output sample
    // Cut-off in cycles per input sample (below both Nyquist frequencies).
    const cutoff = 0.5 * Math.min(1, outRate / inRate) * PASSBAND;
    // Zero crossings of the sinc are 1 / (2 * cutoff) input samples apart.
    this.half = Math.ceil(ZERO_CROSSINGS / (2 * cutoff));
    const taps = 2 * this.half;
    this.taps = taps;
    this.table = new Float32Array((PHASES + 1) * taps);
    const i0beta = besselI0(KAISER_BETA);
    for (let p = 0; p <= PHASES; p++) {
      const frac = p / PHASES;
      let sum = 0;
      for (let j = -this.half + 1; j <= this.half; j++) {
        const t = frac - j; // distance from the output instant to input sample j
        const x = 2 * cutoff * t;
        const sinc = x === 0 ? 1 : Math.sin(Math.PI * x) / (Math.PI * x);
        const r = t / this.half;
        const w = Math.abs(r) >= 1 ? 0 : besselI0(KAISER_BETA * Math.sqrt(1 - r * r)) / i0beta;
        const h = 2 * cutoff * sinc * w;
        this.table[p * taps + (j + this.half - 1)] = h;
        sum += h;
      }
      // Unity gain at DC for every phase.
      for (let k = 0; k < taps; k++) this.table[p * taps + k] /= sum;
    }
    this.buf = new Float32Array(8192);
    this.len = this.half; // history starts with `half` samples of silence
    this.pos = this.half; // input position of the next output sample
  }

  // Appends `input` and calls `emit(sample)` for every output sample now computable.
  push(input, emit) {
    if (this.len + input.length > this.buf.length) {
      const bigger = new Float32Array(Math.max(this.buf.length * 2, this.len + input.length));
      bigger.set(this.buf.subarray(0, this.len));
      this.buf = bigger;
    }
    this.buf.set(input, this.len);
    this.len += input.length;
    const { buf, table, taps, half } = this;
    while (this.pos + half < this.len) {
      const center = Math.floor(this.pos);
      const base = Math.round((this.pos - center) * PHASES) * taps;
      const start = center - half + 1;
      let acc = 0;
      for (let k = 0; k < taps; k++) acc += buf[start + k] * table[base + k];
      emit(acc);
      this.pos += this.step;
    }
    // Drop input that no future output sample needs.
    const drop = Math.floor(this.pos) - half;
    if (drop > 4096) {
      buf.copyWithin(0, drop, this.len);
      this.len -= drop;
      this.pos -= drop;
    }
  }
}

class PCM16CaptureProcessor extends AudioWorkletProcessor {
  constructor(options) {
    super();
    const opts = (options && options.processorOptions) || {};
    this.targetRate = opts.targetRate || 16000;
    this.frameSamples = opts.frameSamples || 512;
    this.resampler = new Resampler(sampleRate, this.targetRate);
    this.frame = new Int16Array(this.frameSamples);
    this.filled = 0;
    this.energy = 0;
    this.active = true;
    this.port.onmessage = (event) => {
      if (event.data && event.data.type === "stop") this.active = false;
    };
    this.emit = (value) => {
      const v = value > 1 ? 1 : value < -1 ? -1 : value;
      this.energy += v * v;
      this.frame[this.filled++] = v < 0 ? Math.round(v * 32768) : Math.round(v * 32767);
      if (this.filled === this.frameSamples) {
        const level = Math.sqrt(this.energy / this.frameSamples);
        const out = this.frame;
        this.port.postMessage({ pcm: out.buffer, level }, [out.buffer]);
        this.frame = new Int16Array(this.frameSamples);
        this.filled = 0;
        this.energy = 0;
      }
    };
  }

  process(inputs) {
    if (!this.active) return false;
    const input = inputs[0];
    if (input && input.length > 0 && input[0].length > 0) {
      let mono = input[0];
      if (input.length > 1) {
        mono = new Float32Array(input[0].length);
        for (let c = 0; c < input.length; c++) {
          const ch = input[c];
          for (let i = 0; i < ch.length; i++) mono[i] += ch[i] / input.length;
        }
      }
      this.resampler.push(mono, this.emit);
    }
    return true;
  }
}

registerProcessor("xtalk-pcm16-capture", PCM16CaptureProcessor);
