// A QR code encoder (ISO/IEC 18004), small on purpose: byte mode, error
// correction level M, versions 1 to 10 (up to 213 bytes, enough for an
// otpauth:// URI of a TOTP secret). The code is computed and drawn in the
// browser: the secret never leaves the page for a QR service.
//
// encodeQr(text) → { size, dark(x, y) } or throws when the text is too long.
// drawQr(canvas, text, scale) draws it with a quiet zone of four modules.
//
// The structure follows the standard: data bits (mode, count, bytes,
// terminator, pad codewords), Reed-Solomon error correction per block over
// GF(256) with the polynomial 0x11D, interleaved blocks, function patterns
// (finders, timing, alignment, format and version information), the
// zig-zag placement, and the mask with the lowest penalty score.

// Per version (index 1..10), level M: error correction codewords per block
// and the blocks as [count, data codewords per block] groups.
const VERSIONS = [
  null,
  { ec: 10, groups: [[1, 16]] },
  { ec: 16, groups: [[1, 28]] },
  { ec: 26, groups: [[1, 44]] },
  { ec: 18, groups: [[2, 32]] },
  { ec: 24, groups: [[2, 43]] },
  { ec: 16, groups: [[4, 27]] },
  { ec: 18, groups: [[4, 31]] },
  { ec: 22, groups: [[2, 38], [2, 39]] },
  { ec: 22, groups: [[3, 36], [2, 37]] },
  { ec: 26, groups: [[4, 43], [1, 44]] },
];

// Centres of the alignment patterns per version (rows and columns alike).
const ALIGNMENT = [null, [], [6, 18], [6, 22], [6, 26], [6, 30], [6, 34],
  [6, 22, 38], [6, 24, 42], [6, 26, 46], [6, 28, 50]];

const FORMAT_LEVEL_M = 0; // the two format bits of level M

function dataCodewords(version) {
  return VERSIONS[version].groups.reduce((n, [count, len]) => n + count * len, 0);
}

// ---- GF(256) and Reed-Solomon ------------------------------------------

function gfMul(a, b) {
  let r = 0;
  for (let i = 7; i >= 0; i -= 1) {
    r = (r << 1) ^ ((r >>> 7) * 0x11d);
    r ^= ((b >>> i) & 1) * a;
  }
  return r & 0xff;
}

// The generator polynomial of degree n (highest coefficient omitted).
function rsDivisor(n) {
  const result = new Array(n).fill(0);
  result[n - 1] = 1;
  let root = 1;
  for (let i = 0; i < n; i += 1) {
    for (let j = 0; j < n; j += 1) {
      result[j] = gfMul(result[j], root);
      if (j + 1 < n) result[j] ^= result[j + 1];
    }
    root = gfMul(root, 0x02);
  }
  return result;
}

function rsRemainder(data, divisor) {
  const result = new Array(divisor.length).fill(0);
  for (const b of data) {
    const factor = b ^ result.shift();
    result.push(0);
    for (let i = 0; i < divisor.length; i += 1) result[i] ^= gfMul(divisor[i], factor);
  }
  return result;
}

// ---- data codewords ------------------------------------------------------

function utf8(text) {
  return Array.from(new TextEncoder().encode(text));
}

function chooseVersion(byteCount) {
  for (let v = 1; v < VERSIONS.length; v += 1) {
    const countBits = v < 10 ? 8 : 16;
    if (4 + countBits + 8 * byteCount <= 8 * dataCodewords(v)) return v;
  }
  throw new Error(`text too long for a QR code of version 10 (${byteCount} bytes)`);
}

function dataBits(bytes, version) {
  const bits = [];
  const put = (value, n) => { for (let i = n - 1; i >= 0; i -= 1) bits.push((value >>> i) & 1); };
  put(0b0100, 4); // byte mode
  put(bytes.length, version < 10 ? 8 : 16);
  for (const b of bytes) put(b, 8);
  const capacity = 8 * dataCodewords(version);
  put(0, Math.min(4, capacity - bits.length)); // terminator
  while (bits.length % 8) bits.push(0);
  const codewords = [];
  for (let i = 0; i < bits.length; i += 8) codewords.push(bits.slice(i, i + 8).reduce((a, b) => (a << 1) | b, 0));
  for (let pad = 0xec; codewords.length < capacity / 8; pad ^= 0xec ^ 0x11) codewords.push(pad);
  return codewords;
}

// Splits into blocks, adds each block's error correction, interleaves.
function withErrorCorrection(data, version) {
  const { ec, groups } = VERSIONS[version];
  const divisor = rsDivisor(ec);
  const blocks = [];
  let at = 0;
  for (const [count, len] of groups) {
    for (let i = 0; i < count; i += 1) {
      const block = data.slice(at, at + len);
      at += len;
      blocks.push({ data: block, ec: rsRemainder(block, divisor) });
    }
  }
  const out = [];
  const longest = Math.max(...blocks.map((b) => b.data.length));
  for (let i = 0; i < longest; i += 1) for (const b of blocks) if (i < b.data.length) out.push(b.data[i]);
  for (let i = 0; i < ec; i += 1) for (const b of blocks) out.push(b.ec[i]);
  return out;
}

// ---- the symbol ------------------------------------------------------------

class Matrix {
  constructor(version) {
    this.version = version;
    this.size = version * 4 + 17;
    this.modules = Array.from({ length: this.size }, () => new Array(this.size).fill(false));
    this.isFunction = Array.from({ length: this.size }, () => new Array(this.size).fill(false));
  }

  setFunction(x, y, dark) {
    this.modules[y][x] = dark;
    this.isFunction[y][x] = true;
  }

  drawFunctionPatterns() {
    const { size } = this;
    for (let i = 0; i < size; i += 1) {
      this.setFunction(6, i, i % 2 === 0);
      this.setFunction(i, 6, i % 2 === 0);
    }
    this.drawFinder(3, 3);
    this.drawFinder(size - 4, 3);
    this.drawFinder(3, size - 4);
    const centres = ALIGNMENT[this.version];
    const last = centres.length - 1;
    centres.forEach((cx, i) => centres.forEach((cy, j) => {
      const nearFinder = (i === 0 && j === 0) || (i === 0 && j === last) || (i === last && j === 0);
      if (!nearFinder) this.drawAlignment(cx, cy);
    }));
    this.drawFormat(0); // reserves the format areas; drawn again with the mask
    this.drawVersion();
  }

  // A finder pattern and its separator, centred on (cx, cy).
  drawFinder(cx, cy) {
    for (let dy = -4; dy <= 4; dy += 1) {
      for (let dx = -4; dx <= 4; dx += 1) {
        const x = cx + dx;
        const y = cy + dy;
        if (x < 0 || y < 0 || x >= this.size || y >= this.size) continue;
        const d = Math.max(Math.abs(dx), Math.abs(dy));
        this.setFunction(x, y, d !== 2 && d !== 4);
      }
    }
  }

  drawAlignment(cx, cy) {
    for (let dy = -2; dy <= 2; dy += 1) {
      for (let dx = -2; dx <= 2; dx += 1) this.setFunction(cx + dx, cy + dy, Math.max(Math.abs(dx), Math.abs(dy)) !== 1);
    }
  }

  // Format information: level and mask, BCH(15,5) with 0x537, XOR 0x5412,
  // in both copies; and the dark module.
  drawFormat(mask) {
    const data = (FORMAT_LEVEL_M << 3) | mask;
    let rem = data;
    for (let i = 0; i < 10; i += 1) rem = (rem << 1) ^ ((rem >>> 9) * 0x537);
    const bits = ((data << 10) | rem) ^ 0x5412;
    const bit = (i) => ((bits >>> i) & 1) === 1;
    const { size } = this;
    for (let i = 0; i <= 5; i += 1) this.setFunction(8, i, bit(i));
    this.setFunction(8, 7, bit(6));
    this.setFunction(8, 8, bit(7));
    this.setFunction(7, 8, bit(8));
    for (let i = 9; i < 15; i += 1) this.setFunction(14 - i, 8, bit(i));
    for (let i = 0; i < 8; i += 1) this.setFunction(size - 1 - i, 8, bit(i));
    for (let i = 8; i < 15; i += 1) this.setFunction(8, size - 15 + i, bit(i));
    this.setFunction(8, size - 8, true);
  }

  // Version information (versions 7 and up): BCH(18,6) with 0x1F25.
  drawVersion() {
    if (this.version < 7) return;
    let rem = this.version;
    for (let i = 0; i < 12; i += 1) rem = (rem << 1) ^ ((rem >>> 11) * 0x1f25);
    const bits = (this.version << 12) | rem;
    for (let i = 0; i < 18; i += 1) {
      const dark = ((bits >>> i) & 1) === 1;
      const a = this.size - 11 + (i % 3);
      const b = Math.floor(i / 3);
      this.setFunction(a, b, dark);
      this.setFunction(b, a, dark);
    }
  }

  // The zig-zag placement of the codewords, two columns at a time from the
  // right, skipping the vertical timing pattern.
  drawCodewords(codewords) {
    const { size } = this;
    let i = 0;
    for (let right = size - 1; right >= 1; right -= 2) {
      if (right === 6) right = 5;
      for (let vert = 0; vert < size; vert += 1) {
        for (let j = 0; j < 2; j += 1) {
          const x = right - j;
          const upward = ((right + 1) & 2) === 0;
          const y = upward ? size - 1 - vert : vert;
          if (!this.isFunction[y][x] && i < codewords.length * 8) {
            this.modules[y][x] = ((codewords[i >>> 3] >>> (7 - (i & 7))) & 1) === 1;
            i += 1;
          }
        }
      }
    }
  }

  applyMask(mask) {
    for (let y = 0; y < this.size; y += 1) {
      for (let x = 0; x < this.size; x += 1) {
        if (!this.isFunction[y][x] && MASKS[mask](x, y)) this.modules[y][x] = !this.modules[y][x];
      }
    }
  }

  // The penalty score of the four rules of the standard.
  penalty() {
    const { size, modules } = this;
    let score = 0;
    const line = (get) => {
      let run = 1;
      for (let i = 1; i <= size; i += 1) {
        if (i < size && get(i) === get(i - 1)) { run += 1; continue; }
        if (run >= 5) score += 3 + (run - 5);
        run = 1;
      }
      const pattern = [true, false, true, true, true, false, true];
      for (let i = 0; i + 7 <= size; i += 1) {
        if (!pattern.every((p, k) => get(i + k) === p)) continue;
        const lightBefore = [1, 2, 3, 4].every((k) => i - k < 0 || !get(i - k));
        const lightAfter = [0, 1, 2, 3].every((k) => i + 7 + k >= size || !get(i + 7 + k));
        if (lightBefore || lightAfter) score += 40;
      }
    };
    for (let y = 0; y < size; y += 1) line((x) => modules[y][x]);
    for (let x = 0; x < size; x += 1) line((y) => modules[y][x]);
    let dark = 0;
    for (let y = 0; y < size; y += 1) {
      for (let x = 0; x < size; x += 1) {
        if (modules[y][x]) dark += 1;
        if (x + 1 < size && y + 1 < size) {
          const c = modules[y][x];
          if (modules[y][x + 1] === c && modules[y + 1][x] === c && modules[y + 1][x + 1] === c) score += 3;
        }
      }
    }
    score += 10 * Math.floor(Math.abs(dark * 100 / (size * size) - 50) / 5);
    return score;
  }
}

const MASKS = [
  (x, y) => (x + y) % 2 === 0,
  (x, y) => y % 2 === 0,
  (x) => x % 3 === 0,
  (x, y) => (x + y) % 3 === 0,
  (x, y) => (Math.floor(x / 3) + Math.floor(y / 2)) % 2 === 0,
  (x, y) => ((x * y) % 2) + ((x * y) % 3) === 0,
  (x, y) => (((x * y) % 2) + ((x * y) % 3)) % 2 === 0,
  (x, y) => (((x + y) % 2) + ((x * y) % 3)) % 2 === 0,
];

export function encodeQr(text) {
  const bytes = utf8(text);
  const version = chooseVersion(bytes.length);
  const codewords = withErrorCorrection(dataBits(bytes, version), version);
  let best = null;
  for (let mask = 0; mask < MASKS.length; mask += 1) {
    const m = new Matrix(version);
    m.drawFunctionPatterns();
    m.drawCodewords(codewords);
    m.applyMask(mask);
    m.drawFormat(mask);
    const score = m.penalty();
    if (!best || score < best.score) best = { m, score };
  }
  const { m } = best;
  return { version, size: m.size, dark: (x, y) => m.modules[y][x] };
}

// Draws `text` as a QR code on `canvas`: `scale` pixels per module, a quiet
// zone of four modules, black on white. Returns the encoded symbol.
export function drawQr(canvas, text, scale = 6) {
  const qr = encodeQr(text);
  const quiet = 4;
  const px = (qr.size + 2 * quiet) * scale;
  canvas.width = px;
  canvas.height = px;
  const ctx = canvas.getContext('2d');
  ctx.fillStyle = '#ffffff';
  ctx.fillRect(0, 0, px, px);
  ctx.fillStyle = '#000000';
  for (let y = 0; y < qr.size; y += 1) {
    for (let x = 0; x < qr.size; x += 1) {
      if (qr.dark(x, y)) ctx.fillRect((x + quiet) * scale, (y + quiet) * scale, scale, scale);
    }
  }
  return qr;
}
