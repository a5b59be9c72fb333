/** One CSV record (RFC 4180) → its fields. */

/**
 * The fields of one record whose line breaks were already found by RecordSplitter. Quoted fields
 * may hold commas, line breaks and doubled quotes; a quote inside an unquoted field is kept as
 * text (as spreadsheets write it). Returns an error message for text after a closing quote.
 * Hand-written for the reason RecordSplitter gives: records are parsed one chunk at a time in the
 * queue consumer, without Node streams.
 */
export function parseCsvRecord(record: string): string[] | { error: string } {
  const fields: string[] = [];
  let i = 0;
  const n = record.length;
  while (true) {
    if (record.charCodeAt(i) === 34) {
      let value = "";
      let from = i + 1;
      while (true) {
        const q = record.indexOf('"', from);
        if (q === -1) return { error: "a quoted field is never closed" };
        if (record.charCodeAt(q + 1) === 34) {
          value += record.slice(from, q + 1);
          from = q + 2;
          continue;
        }
        value += record.slice(from, q);
        i = q + 1;
        break;
      }
      fields.push(value);
      if (i === n) return fields;
      if (record.charCodeAt(i) !== 44) {
        return { error: `text after the closing quote of field ${fields.length}` };
      }
      i += 1;
    } else {
      const comma = record.indexOf(",", i);
      if (comma === -1) {
        fields.push(record.slice(i));
        return fields;
      }
      fields.push(record.slice(i, comma));
      i = comma + 1;
    }
  }
}

/** A field for a CSV line: quoted when it holds a comma, quote or line break. */
export function csvField(value: string): string {
  return /[",\r\n]/.test(value) ? `"${value.replace(/"/g, '""')}"` : value;
}
