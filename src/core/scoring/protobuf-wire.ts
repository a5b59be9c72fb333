/** A minimal reader of the protobuf wire format: fields of one message as tags and byte ranges. */

// Hand-written on purpose. protobufjs' reflection decoders build their code at run time with
// `new Function`, which workerd forbids, and a full decode (static code included) copies every
// initializer's data into JS arrays before anything can be checked. This reader walks the bytes in
// place, hands out sub-ranges for nested messages and decodes only the scalars asked for.

/** Wire types the protobuf encoding defines (3 and 4, groups, are not used by ONNX). */
export const WIRE_VARINT = 0;
export const WIRE_FIXED64 = 1;
export const WIRE_LENGTH_DELIMITED = 2;
export const WIRE_FIXED32 = 5;

/** Bytes that do not follow the wire format; `offset` is from the start of the whole buffer. */
export class WireFormatError extends Error {
  readonly offset: number;
  constructor(message: string, offset: number) {
    super(`${message} at byte ${offset}`);
    this.name = "WireFormatError";
    this.offset = offset;
  }
}

/** One field occurrence. For length-delimited fields, `start`/`end` delimit the payload. */
export interface WireField {
  field: number;
  wireType: number;
  /** The varint's value (wire type 0); 0 for other wire types. Exact up to 2^53. */
  value: number;
  start: number;
  end: number;
}

/** The value a 10-byte varint of a negative int64 decodes to, approximately (≥ 2^63). */
const INT64_SIGN = 2 ** 63;

/** Reads a varint at `offset`; returns its value (as a double: exact up to 2^53) and length. */
export function readVarint(bytes: Uint8Array, offset: number): { value: number; next: number } {
  let value = 0;
  let scale = 1;
  for (let i = 0; i < 10; i++) {
    const at = offset + i;
    if (at >= bytes.length) throw new WireFormatError("truncated varint", offset);
    const byte = bytes[at]!;
    value += (byte & 0x7f) * scale;
    scale *= 128;
    if ((byte & 0x80) === 0) return { value, next: at + 1 };
  }
  throw new WireFormatError("varint longer than 10 bytes", offset);
}

/** An int64 varint as a signed number (negative values are written as 10-byte varints). */
export function toInt64(value: number): number {
  return value >= INT64_SIGN ? value - 2 ** 64 : value;
}

/**
 * Every field of the message in `bytes[start, end)`, in order. Throws WireFormatError on bytes
 * that are not a protobuf message (an unknown wire type, a length past the end, field number 0).
 */
export function* readFields(bytes: Uint8Array, start: number, end: number): Generator<WireField> {
  let offset = start;
  while (offset < end) {
    const tagAt = offset;
    const tag = readVarint(bytes, offset);
    offset = tag.next;
    const field = Math.floor(tag.value / 8);
    const wireType = tag.value % 8;
    if (field === 0) throw new WireFormatError("field number 0", tagAt);
    switch (wireType) {
      case WIRE_VARINT: {
        const v = readVarint(bytes, offset);
        offset = v.next;
        yield { field, wireType, value: v.value, start: offset, end: offset };
        break;
      }
      case WIRE_FIXED64:
      case WIRE_FIXED32: {
        const size = wireType === WIRE_FIXED64 ? 8 : 4;
        if (offset + size > end) throw new WireFormatError(`truncated field ${field}`, tagAt);
        yield { field, wireType, value: 0, start: offset, end: offset + size };
        offset += size;
        break;
      }
      case WIRE_LENGTH_DELIMITED: {
        const length = readVarint(bytes, offset);
        const payloadStart = length.next;
        const payloadEnd = payloadStart + length.value;
        if (payloadEnd > end) {
          throw new WireFormatError(
            `field ${field} declares ${length.value} bytes but ${end - payloadStart} remain`,
            tagAt,
          );
        }
        yield { field, wireType, value: 0, start: payloadStart, end: payloadEnd };
        offset = payloadEnd;
        break;
      }
      default:
        throw new WireFormatError(
          `field ${field} has wire type ${wireType}, which ONNX never uses`,
          tagAt,
        );
    }
  }
}

/**
 * The values of a repeated integer field occurrence: one varint, or a packed run of them (proto2
 * writers such as protobufjs write ONNX's repeated int64 fields unpacked, others pack them).
 */
export function readVarints(bytes: Uint8Array, f: WireField): number[] {
  if (f.wireType === WIRE_VARINT) return [f.value];
  if (f.wireType !== WIRE_LENGTH_DELIMITED) {
    throw new WireFormatError(`field ${f.field} is not an integer field`, f.start);
  }
  const values: number[] = [];
  let offset = f.start;
  while (offset < f.end) {
    const v = readVarint(bytes, offset);
    if (v.next > f.end) throw new WireFormatError(`packed field ${f.field} overruns`, offset);
    values.push(v.value);
    offset = v.next;
  }
  return values;
}

/** How many 32-bit values a repeated float field occurrence holds (one, or a packed run). */
export function countFixed32(f: WireField): number {
  if (f.wireType === WIRE_FIXED32) return 1;
  if (f.wireType !== WIRE_LENGTH_DELIMITED || (f.end - f.start) % 4 !== 0) {
    throw new WireFormatError(`field ${f.field} is not a float field`, f.start);
  }
  return (f.end - f.start) / 4;
}

/** A length-delimited field's payload as UTF-8 text. */
export function readString(bytes: Uint8Array, f: WireField): string {
  if (f.wireType !== WIRE_LENGTH_DELIMITED) {
    throw new WireFormatError(`field ${f.field} is not a string`, f.start);
  }
  return new TextDecoder().decode(bytes.subarray(f.start, f.end));
}

/** The values of a repeated float field occurrence (one fixed32, or a packed run), as doubles. */
export function readFixed32Floats(bytes: Uint8Array, f: WireField): number[] {
  const count = countFixed32(f);
  const view = new DataView(bytes.buffer, bytes.byteOffset + f.start, count * 4);
  const values: number[] = new Array(count);
  for (let i = 0; i < count; i++) values[i] = view.getFloat32(i * 4, true);
  return values;
}

/** The values of a repeated double field occurrence (one fixed64, or a packed run). */
export function readFixed64Doubles(bytes: Uint8Array, f: WireField): number[] {
  const size = f.end - f.start;
  if (f.wireType === WIRE_FIXED64) {
    return [new DataView(bytes.buffer, bytes.byteOffset + f.start, 8).getFloat64(0, true)];
  }
  if (f.wireType !== WIRE_LENGTH_DELIMITED || size % 8 !== 0) {
    throw new WireFormatError(`field ${f.field} is not a double field`, f.start);
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset + f.start, size);
  const values: number[] = new Array(size / 8);
  for (let i = 0; i < values.length; i++) values[i] = view.getFloat64(i * 8, true);
  return values;
}
