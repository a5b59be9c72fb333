import { describe, expect, it } from "vitest";
import { DependencyUnavailableError, ValidationError } from "#core/errors";
import { isDataRefusal, isTransientFailure, sqlstateOf } from "./sqlstate";

const pgError = (code: string) => Object.assign(new Error(`SQLSTATE ${code}`), { code });

describe("SQLSTATE classes", () => {
  it.each([
    ["22P02 invalid text (a lone surrogate in jsonb)", "22P02", true, false],
    ["22021 invalid byte sequence (U+0000)", "22021", true, false],
    ["22001 value too long", "22001", true, false],
    ["23505 unique violation", "23505", true, false],
    ["23514 check violation", "23514", true, false],
    ["54000 program limit exceeded", "54000", true, false],
    ["54001 statement too complex", "54001", true, false],
    ["08006 connection failure", "08006", false, true],
    ["40001 serialization failure", "40001", false, true],
    ["40P01 deadlock", "40P01", false, true],
    ["53300 too many connections", "53300", false, true],
    ["57014 query canceled", "57014", false, true],
    ["57P01 admin shutdown", "57P01", false, true],
    ["42P01 undefined table (a bug or a missing migration)", "42P01", false, false],
  ])("%s", (_name, code, refusal, transient) => {
    expect(sqlstateOf(pgError(code))).toBe(code);
    expect(isDataRefusal(pgError(code))).toBe(refusal);
    expect(isTransientFailure(pgError(code))).toBe(transient);
  });

  it("reads errors without a SQLSTATE by what they are", () => {
    expect(sqlstateOf(new Error("socket hang up"))).toBeUndefined();
    expect(isTransientFailure(new Error("socket hang up"))).toBe(true);
    expect(isTransientFailure(new TypeError("x is undefined"))).toBe(false);
    expect(isTransientFailure(new DependencyUnavailableError("down"))).toBe(true);
    expect(isTransientFailure(new ValidationError("bad", []))).toBe(false);
    expect(isDataRefusal(new Error("socket hang up"))).toBe(false);
    expect(isDataRefusal({ code: "ECONNRESET" })).toBe(false);
  });
});
