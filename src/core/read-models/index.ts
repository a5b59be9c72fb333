/** Read models shared by every program that answers tenant reads: the metrics read's contract and SQL. */
export * from "./metrics-query.ts";
export * from "./metrics-sql.ts";
