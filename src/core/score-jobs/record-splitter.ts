/** Splits streamed text into records (CSV rows, NDJSON lines) without holding more than one record. */
import { ValidationError } from "../errors.ts";

export type JobFormat = "csv" | "ndjson";

const RETURN = 13; // \r

/**
 * Feeds text in, takes complete records out. A record ends at a line break; in CSV a line break
 * inside a quoted field belongs to the field (RFC 4180 doubles quotes inside fields, so the
 * parity of the quotes seen tells whether the scan is inside one). Blank records are skipped;
 * a trailing `\r` (CRLF files) is dropped.
 *
 * Hand-written rather than a CSV library because the upload is split into chunk objects while it
 * streams, before any field is parsed: only the record boundaries are needed here, and the CSV
 * parsers on npm push through Node streams, which the Worker does not run.
 */
export class RecordSplitter {
  private pending = "";
  /** Where the scan of `pending` resumes, and whether it is inside a quoted field there. */
  private scanned = 0;
  private inQuotes = false;

  private readonly format: JobFormat;
  /** Longest record accepted (characters); a longer one is a 400 (an unclosed quote, say). */
  private readonly maxRecordChars: number;

  constructor(format: JobFormat, maxRecordChars: number) {
    this.format = format;
    this.maxRecordChars = maxRecordChars;
  }

  /** Records completed by `text`. `nextRow` (the next record's number) only names rows in errors. */
  push(text: string, nextRow: number): string[] {
    this.pending = this.pending.length === 0 ? text : this.pending + text;
    const records: string[] = [];
    let start = 0;
    const s = this.pending;
    let i = this.scanned;
    if (this.format === "ndjson") {
      for (let nl = s.indexOf("\n", i); nl !== -1; nl = s.indexOf("\n", start)) {
        this.take(s, start, nl, records);
        start = nl + 1;
      }
      i = s.length;
    } else {
      // indexOf (native, vectorised) finds the next line break and quote; only quotes toggle the
      // state, so a file without quotes is split as fast as NDJSON.
      let inQuotes = this.inQuotes;
      // The next quote at or after i; −1 once there is none left in `s` (never searched again).
      let quote = s.indexOf('"', i);
      while (i < s.length) {
        if (quote !== -1 && quote < i) quote = s.indexOf('"', i);
        if (inQuotes) {
          if (quote === -1) {
            i = s.length;
            break;
          }
          inQuotes = false;
          i = quote + 1;
          continue;
        }
        const nl = s.indexOf("\n", i);
        if (nl !== -1 && (quote === -1 || nl < quote)) {
          this.take(s, start, nl, records);
          start = nl + 1;
          i = nl + 1;
        } else if (quote !== -1) {
          inQuotes = true;
          i = quote + 1;
        } else {
          i = s.length;
        }
      }
      this.inQuotes = inQuotes;
    }
    this.pending = start === 0 ? s : s.slice(start);
    this.scanned = i - start;
    if (this.pending.length > this.maxRecordChars) {
      throw new ValidationError(
        `Row ${nextRow + records.length} is longer than ${this.maxRecordChars} characters${this.format === "csv" && this.inQuotes ? " (a quoted field is never closed)" : ""}; check the file's format.`,
        [{ field: "(body)", message: `row ${nextRow + records.length} is too long` }],
      );
    }
    return records;
  }

  /** The last record, when the text did not end with a line break. */
  end(nextRow: number): string[] {
    const records: string[] = [];
    if (this.format === "csv" && this.inQuotes) {
      throw new ValidationError(
        `Row ${nextRow}: a quoted field is never closed before the end of the file.`,
        [{ field: "(body)", message: `row ${nextRow} has an unclosed quote` }],
      );
    }
    this.take(this.pending, 0, this.pending.length, records);
    this.pending = "";
    this.scanned = 0;
    return records;
  }

  private take(s: string, start: number, end: number, into: string[]): void {
    let last = end;
    if (last > start && s.charCodeAt(last - 1) === RETURN) last -= 1;
    if (last === start) return;
    const record = s.slice(start, last);
    if (record.trim() === "") return;
    into.push(record);
  }
}
