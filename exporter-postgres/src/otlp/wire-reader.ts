/** The body ends inside a field, or a field is malformed: the request is no protobuf message. */
export class WireError extends Error {
  override name = 'WireError';
}

export const VARINT = 0;
export const FIXED64 = 1;
export const LENGTH_DELIMITED = 2;
const START_GROUP = 3;
const END_GROUP = 4;
export const FIXED32 = 5;

const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'));

/**
 * A cursor over protobuf wire format (protobuf.dev/programming-guides/encoding): tags, varints, fixed-width numbers
 * and length-delimited fields, read straight out of the body. Strings and ids are decoded only where a caller asks.
 */
export class WireReader {
  pos: number;

  constructor(
    readonly buf: Buffer,
    start = 0,
  ) {
    this.pos = start;
  }

  static of(body: Uint8Array): WireReader {
    return new WireReader(
      Buffer.isBuffer(body) ? body : Buffer.from(body.buffer, body.byteOffset, body.byteLength),
    );
  }

  /** A varint of up to 32 significant bits (tags, lengths, int32 and enum values, as protobuf's own `uint32`). */
  uint32(): number {
    const buf = this.buf;
    let value = 0;
    let shift = 0;
    for (let i = 0; i < 10; i++) {
      if (this.pos >= buf.length) throw new WireError('truncated varint');
      const byte = buf[this.pos++]!;
      if (shift < 32) value |= (byte & 0x7f) << shift;
      if (byte < 0x80) return value >>> 0;
      shift += 7;
    }
    throw new WireError('varint longer than 10 bytes');
  }

  /**
   * A varint as a signed 64-bit integer: a number when it is exact as one, else its decimal text. Up to seven
   * bytes (49 bits) it is read as a number; longer ones (large and negative values) through BigInt.
   */
  int64(): number | string {
    const buf = this.buf;
    const from = this.pos;
    let value = 0;
    let scale = 1;
    for (let i = 0; i < 7 && this.pos < buf.length; i++) {
      const byte = buf[this.pos++]!;
      value += (byte & 0x7f) * scale;
      if (byte < 0x80) return value;
      scale *= 128;
    }
    this.pos = from;
    let big = 0n;
    let shift = 0n;
    for (let i = 0; i < 10; i++) {
      if (this.pos >= buf.length) throw new WireError('truncated varint');
      const byte = buf[this.pos++]!;
      big |= BigInt(byte & 0x7f) << shift;
      if (byte < 0x80) {
        const n = BigInt.asIntN(64, big);
        return n >= BigInt(Number.MIN_SAFE_INTEGER) && n <= BigInt(Number.MAX_SAFE_INTEGER)
          ? Number(n)
          : n.toString();
      }
      shift += 7n;
    }
    throw new WireError('varint longer than 10 bytes');
  }

  fixed64(): bigint {
    this.need(8);
    const value = this.buf.readBigUInt64LE(this.pos);
    this.pos += 8;
    return value;
  }

  double(): number {
    this.need(8);
    const value = this.buf.readDoubleLE(this.pos);
    this.pos += 8;
    return value;
  }

  /** The end of the length-delimited field that starts here; the cursor moves to its first byte. */
  delimited(): number {
    const length = this.uint32();
    this.need(length);
    return this.pos + length;
  }

  /** A length-delimited field as UTF-8 text. */
  string(): string {
    const end = this.delimited();
    const start = this.pos;
    this.pos = end;
    return this.buf.toString('utf8', start, end);
  }

  /** A length-delimited field as lowercase hex when it is `bytes` long, else its length as a negative number. */
  hexId(bytes: number): string | number {
    const end = this.delimited();
    const start = this.pos;
    this.pos = end;
    if (end - start !== bytes) return start - end;
    const buf = this.buf;
    let out = '';
    for (let i = start; i < end; i++) out += HEX[buf[i]!];
    return out;
  }

  /** A length-delimited field as base64 (attribute bytes values). */
  base64(): string {
    const end = this.delimited();
    const start = this.pos;
    this.pos = end;
    return this.buf.toString('base64', start, end);
  }

  /** Each length-delimited field `field` of the message ending at `end`, its content handed to `read` by its end. */
  each(end: number, field: number, read: (fieldEnd: number) => void): void {
    while (this.pos < end) {
      const tag = this.uint32();
      if (tag >>> 3 === field && (tag & 7) === LENGTH_DELIMITED) {
        const fieldEnd = this.delimited();
        read(fieldEnd);
        this.pos = fieldEnd;
      } else this.skip(tag & 7);
    }
  }

  /**
   * The last length-delimited field `field` of the message ending at `end` (a later one replaces an earlier, as in
   * any protobuf decoder), read by `read`; the cursor is left where it was, so a message's resource or scope can be
   * read before the items that precede it on the wire.
   */
  last<T>(end: number, field: number, read: (fieldEnd: number) => T): T | undefined {
    const from = this.pos;
    let found: T | undefined;
    this.each(end, field, (fieldEnd) => {
      found = read(fieldEnd);
    });
    this.pos = from;
    return found;
  }

  /** The bytes up to `end` as UTF-8 text (a string field whose length was already read). */
  text(end: number): string {
    return this.buf.toString('utf8', this.pos, end);
  }

  /** Steps over a field of `wireType` whose tag was just read. */
  skip(wireType: number, depth = 0): void {
    switch (wireType) {
      case VARINT:
        this.uint32();
        return;
      case FIXED64:
        this.need(8);
        this.pos += 8;
        return;
      case LENGTH_DELIMITED:
        this.pos = this.delimited();
        return;
      case START_GROUP: {
        if (depth > 32) throw new WireError('groups nested too deep');
        for (;;) {
          const tag = this.uint32();
          if ((tag & 7) === END_GROUP) return;
          this.skip(tag & 7, depth + 1);
        }
      }
      case FIXED32:
        this.need(4);
        this.pos += 4;
        return;
      default:
        throw new WireError(`invalid wire type ${wireType} at offset ${this.pos}`);
    }
  }

  private need(bytes: number): void {
    if (this.pos + bytes > this.buf.length) throw new WireError(`index out of range: ${this.pos} + ${bytes}`);
  }
}
