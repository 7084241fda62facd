/**
 * Just enough PNG for the report screenshot (scripts/report-screenshot.ts), with no image library:
 * read Chromium's 8-bit RGB(A) screenshot, cut the empty background under the page, and write it
 * back with a palette of at most 256 colours. A page of flat charts and anti-aliased text loses
 * nothing visible and the file shrinks about threefold.
 */
import { deflateSync, inflateSync } from 'node:zlib';

export interface Image {
  width: number;
  height: number;
  /** RGB, 3 bytes a pixel, row after row. */
  rgb: Buffer;
}

const SIGNATURE = Buffer.from([137, 80, 78, 71, 13, 10, 26, 10]);

const CRC_TABLE = Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k += 1) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});

function crc32(bytes: Buffer): number {
  let c = 0xffffffff;
  for (const byte of bytes) c = (CRC_TABLE[(c ^ byte) & 0xff] ?? 0) ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

/** Reads an 8-bit, non-interlaced RGB or RGBA PNG (alpha dropped). */
export function readPng(file: Buffer): Image {
  if (!file.subarray(0, 8).equals(SIGNATURE)) throw new Error('not a PNG');
  let width = 0;
  let height = 0;
  let channels = 0;
  const data: Buffer[] = [];
  for (let at = 8; at < file.length;) {
    const length = file.readUInt32BE(at);
    const type = file.toString('latin1', at + 4, at + 8);
    const body = file.subarray(at + 8, at + 8 + length);
    if (type === 'IHDR') {
      width = body.readUInt32BE(0);
      height = body.readUInt32BE(4);
      const [depth, colorType, , , interlace] = [body[8], body[9], body[10], body[11], body[12]];
      if (depth !== 8 || interlace !== 0 || (colorType !== 2 && colorType !== 6))
        throw new Error(`unsupported PNG (depth ${depth}, colour type ${colorType}, interlace ${interlace})`);
      channels = colorType === 2 ? 3 : 4;
    } else if (type === 'IDAT') data.push(body);
    at += 12 + length;
  }
  const raw = inflateSync(Buffer.concat(data));
  const stride = width * channels;
  const pixels = Buffer.alloc(stride * height);
  for (let y = 0; y < height; y += 1) {
    const filter = raw[y * (stride + 1)];
    const line = raw.subarray(y * (stride + 1) + 1, (y + 1) * (stride + 1));
    const row = pixels.subarray(y * stride, (y + 1) * stride);
    const above = y > 0 ? pixels.subarray((y - 1) * stride, y * stride) : Buffer.alloc(stride);
    for (let x = 0; x < stride; x += 1) {
      const a = x >= channels ? (row[x - channels] ?? 0) : 0;
      const b = above[x] ?? 0;
      const c = x >= channels ? (above[x - channels] ?? 0) : 0;
      const value = line[x] ?? 0;
      let predicted = 0;
      if (filter === 1) predicted = a;
      else if (filter === 2) predicted = b;
      else if (filter === 3) predicted = (a + b) >> 1;
      else if (filter === 4) {
        const p = a + b - c;
        const pa = Math.abs(p - a);
        const pb = Math.abs(p - b);
        const pc = Math.abs(p - c);
        predicted = pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
      }
      row[x] = (value + predicted) & 0xff;
    }
  }
  if (channels === 3) return { width, height, rgb: pixels };
  const rgb = Buffer.alloc(width * height * 3);
  for (let i = 0, j = 0; i < pixels.length; i += 4, j += 3) pixels.copy(rgb, j, i, i + 3);
  return { width, height, rgb };
}

/** The image without the rows at its bottom that are all the colour of its bottom-left pixel, plus `margin` of them. */
export function trimBottom(image: Image, margin = 24): Image {
  const { width, rgb } = image;
  const background = rgb.subarray((image.height - 1) * width * 3, (image.height - 1) * width * 3 + 3);
  const plain = (y: number) => {
    for (let x = 0; x < width; x += 1) {
      const at = (y * width + x) * 3;
      if (rgb[at] !== background[0] || rgb[at + 1] !== background[1] || rgb[at + 2] !== background[2]) return false;
    }
    return true;
  };
  let last = image.height - 1;
  while (last > 0 && plain(last)) last -= 1;
  const height = Math.min(image.height, last + 1 + margin);
  return { width, height, rgb: rgb.subarray(0, height * width * 3) };
}

/** The top of the image down to the first gap between cards at or below `atLeast` px (a row all of the top-left pixel's colour). */
export function topUntilGap(image: Image, atLeast: number, margin = 8): Image {
  const { width, rgb } = image;
  const background = rgb.subarray(0, 3);
  const plain = (y: number) => {
    for (let x = 0; x < width; x += 1) {
      const at = (y * width + x) * 3;
      if (rgb[at] !== background[0] || rgb[at + 1] !== background[1] || rgb[at + 2] !== background[2]) return false;
    }
    return true;
  };
  let y = Math.min(atLeast, image.height - 1);
  while (y < image.height - 1 && !plain(y)) y += 1;
  const height = Math.min(image.height, y + margin);
  return { width, height, rgb: rgb.subarray(0, height * width * 3) };
}

/**
 * The image as an 8-bit palette PNG: the 256 most used colours (5 bits a channel, each the mean
 * of the pixels it stands for), every pixel mapped to the nearest of them.
 */
export function writePalettePng(image: Image): Buffer {
  const { width, height, rgb } = image;
  const key = (at: number) =>
    (((rgb[at] ?? 0) >> 3) << 10) | (((rgb[at + 1] ?? 0) >> 3) << 5) | ((rgb[at + 2] ?? 0) >> 3);
  const count = new Uint32Array(1 << 15);
  const sums = new Float64Array((1 << 15) * 3);
  for (let at = 0; at < rgb.length; at += 3) {
    const k = key(at);
    count[k] = (count[k] ?? 0) + 1;
    sums[k * 3] = (sums[k * 3] ?? 0) + (rgb[at] ?? 0);
    sums[k * 3 + 1] = (sums[k * 3 + 1] ?? 0) + (rgb[at + 1] ?? 0);
    sums[k * 3 + 2] = (sums[k * 3 + 2] ?? 0) + (rgb[at + 2] ?? 0);
  }
  const used = [...count.keys()].filter((k) => (count[k] ?? 0) > 0).sort((a, b) => (count[b] ?? 0) - (count[a] ?? 0));
  const palette = used
    .slice(0, 256)
    .map(
      (k) =>
        [0, 1, 2].map((channel) => Math.round((sums[k * 3 + channel] ?? 0) / (count[k] ?? 1))) as [
          number,
          number,
          number,
        ],
    );
  const nearest = new Int16Array(1 << 15).fill(-1);
  const indexOf = (k: number, at: number) => {
    const known = nearest[k] ?? -1;
    if (known >= 0) return known;
    let best = 0;
    let bestDistance = Infinity;
    palette.forEach(([r, g, b], index) => {
      const distance = (r - (rgb[at] ?? 0)) ** 2 + (g - (rgb[at + 1] ?? 0)) ** 2 + (b - (rgb[at + 2] ?? 0)) ** 2;
      if (distance < bestDistance) [best, bestDistance] = [index, distance];
    });
    nearest[k] = best;
    return best;
  };
  const raw = Buffer.alloc((width + 1) * height);
  for (let y = 0; y < height; y += 1)
    for (let x = 0; x < width; x += 1) {
      const at = (y * width + x) * 3;
      raw[y * (width + 1) + 1 + x] = indexOf(key(at), at);
    }
  const header = Buffer.alloc(13);
  header.writeUInt32BE(width, 0);
  header.writeUInt32BE(height, 4);
  header.set([8, 3, 0, 0, 0], 8);
  return Buffer.concat([
    SIGNATURE,
    chunk('IHDR', header),
    chunk('PLTE', Buffer.from(palette.flat())),
    chunk('IDAT', deflateSync(raw, { level: 9 })),
    chunk('IEND', Buffer.alloc(0)),
  ]);
}

function chunk(type: string, body: Buffer): Buffer {
  const length = Buffer.alloc(4);
  length.writeUInt32BE(body.length);
  const typed = Buffer.concat([Buffer.from(type, 'latin1'), body]);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(typed));
  return Buffer.concat([length, typed, crc]);
}
