/**
 * TIFF LZW (compression 5) decoding on typed arrays. geotiff.js 3.0.5 decodes LZW through JS arrays and
 * per-code reversed copies (about 0.7-1 s for one 512x512 float32 tile, e.g. the swisstopo DEM); this table
 * decoder does the same work in a few milliseconds. Output is identical: MSB-first codes, 9-12 bits,
 * "early change" width switch, 256 = clear, 257 = end of information. Registered in decoders.ts.
 */
const CLEAR = 256;
const END = 257;
const TABLE = 4096;
/** Thrown inside the decode loop when the output would pass maxBytes; never escapes decodeLzw. */
const TOO_LARGE = Symbol('too large');

/** Undefined when the output would pass `maxBytes` (a bomb or a corrupt stream). */
export function decodeLzw(input: Uint8Array, sizeHint: number | undefined, maxBytes: number): Uint8Array | undefined;
export function decodeLzw(input: Uint8Array, sizeHint?: number): Uint8Array;
export function decodeLzw(input: Uint8Array, sizeHint = input.length * 4, maxBytes = Number.POSITIVE_INFINITY): Uint8Array | undefined {
  const prefix = new Uint16Array(TABLE);
  const suffix = new Uint8Array(TABLE);
  const first = new Uint8Array(TABLE);
  const lengths = new Uint16Array(TABLE);
  for (let i = 0; i < 256; i++) {
    suffix[i] = i;
    first[i] = i;
    lengths[i] = 1;
  }
  let out = new Uint8Array(Math.max(sizeHint, 1024));
  let outPos = 0;
  const totalBits = input.length * 8;
  let bitPos = 0;
  let width = 9;
  let size = 258;
  let previous = -1;

  const readCode = (): number => {
    if (bitPos + width > totalBits) return END; // ran off the end: treat as end of data, as geotiff.js does
    const byte = bitPos >>> 3;
    const chunk = (input[byte] << 16) | ((input[byte + 1] ?? 0) << 8) | (input[byte + 2] ?? 0);
    const code = (chunk >>> (24 - (bitPos & 7) - width)) & ((1 << width) - 1);
    bitPos += width;
    return code;
  };
  const reserve = (extra: number) => {
    if (outPos + extra > maxBytes) throw TOO_LARGE;
    if (outPos + extra <= out.length) return;
    let capacity = out.length * 2;
    while (capacity < outPos + extra) capacity *= 2;
    capacity = Math.min(capacity, maxBytes);
    const grown = new Uint8Array(capacity);
    grown.set(out.subarray(0, outPos));
    out = grown;
  };
  const emit = (code: number) => {
    const length = lengths[code];
    reserve(length);
    let k = code;
    for (let j = outPos + length - 1; j >= outPos; j--) {
      out[j] = suffix[k];
      k = prefix[k];
    }
    outPos += length;
  };
  const add = (base: number, char: number) => {
    if (size >= TABLE) return;
    prefix[size] = base;
    suffix[size] = char;
    first[size] = first[base];
    lengths[size] = lengths[base] + 1;
    size++;
  };

  try {
    for (let code = readCode(); code !== END; code = readCode()) {
      if (code === CLEAR) {
        size = 258;
        width = 9;
        code = readCode();
        while (code === CLEAR) code = readCode();
        if (code === END) break;
        if (code > CLEAR) throw new Error(`LZW: code ${code} right after a clear code`);
        emit(code);
        previous = code;
      } else if (code < size) {
        emit(code);
        if (previous >= 0) add(previous, first[code]);
        previous = code;
      } else if (code === size && previous >= 0) {
        // KwKwK: the code being defined right now is previous + first char of previous.
        const char = first[previous];
        emit(previous);
        reserve(1);
        out[outPos++] = char;
        add(previous, char);
        previous = code;
      } else {
        throw new Error(`LZW: invalid code ${code} (table holds ${size})`);
      }
      if (size + 1 >= 1 << width) {
        if (width === 12) previous = -1;
        else width++;
      }
    }
  } catch (error) {
    if (error === TOO_LARGE) return undefined;
    throw error;
  }
  return out.slice(0, outPos);
}
