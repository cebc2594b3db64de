import { inflateSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { decodeChip, encodeChip } from '../src/generation/chip-codec.js';

/**
 * The chip codec's byte layout as documented in src/generation/chip-codec.ts, checked byte by byte so that a chip
 * written by one build is read by another: little-endian header, per band f64 offset and scale, then
 * deflate(mask u8 | per band i16 little-endian).
 */
describe('chip codec layout', () => {
  it('writes the documented header and little-endian int16 levels', () => {
    // Two valid pixels 0 and 10, one masked: min 0, max 10 -> offset 5, scale 10 / 65534; levels -32767, 32767, 0.
    const chip = { width: 3, height: 1, mask: new Uint8Array([255, 255, 0]), bands: [new Float32Array([0, 10, 99])] };
    const bytes = Buffer.from(encodeChip(chip));
    expect(bytes.subarray(0, 4).toString('latin1')).toBe('TMCH');
    expect(bytes.readUInt8(4)).toBe(1);
    expect([bytes.readUInt16LE(6), bytes.readUInt16LE(8), bytes.readUInt16LE(10)]).toEqual([3, 1, 1]);
    expect(bytes.readDoubleLE(12)).toBe(5);
    expect(bytes.readDoubleLE(20)).toBe(10 / 65534);
    const payload = inflateSync(bytes.subarray(28));
    // mask, then -32767 = 0x8001 -> 01 80, 32767 = 0x7fff -> ff 7f, masked -> 00 00.
    expect([...payload]).toEqual([255, 255, 0, 0x01, 0x80, 0xff, 0x7f, 0x00, 0x00]);
    const decoded = decodeChip(bytes);
    expect([...decoded.bands[0]!]).toEqual([0, 10, 0]);
    expect([...decoded.mask]).toEqual([255, 255, 0]);
  });

  it('reads little-endian levels at an odd payload offset (odd pixel counts)', () => {
    // 1 x 1 chip: the int16 plane starts at payload byte 1, so no aligned Int16Array can view it.
    const bytes = Buffer.from(encodeChip({ width: 1, height: 1, mask: new Uint8Array([255]), bands: [new Float32Array([4]), new Float32Array([-2])] }));
    expect([...inflateSync(bytes.subarray(12 + 32))]).toEqual([255, 0, 0, 0, 0]);
    const decoded = decodeChip(bytes);
    // A constant band has scale 0: its value is the offset.
    expect([...decoded.bands[0]!, ...decoded.bands[1]!]).toEqual([4, -2]);
  });
});
