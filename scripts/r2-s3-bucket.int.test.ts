/** S3Bucket against Miniflare's R2 and its S3-compatible endpoint (SigV4 checked by Miniflare). */
import { convertV4MiniflareOptions, Log, LogLevel, Miniflare } from "miniflare";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { scrubParkedBundles, tenantRecordMatcher } from "#core/privacy";
import { parseListObjectsV2, S3Bucket } from "./r2-s3-bucket";

const CREDENTIALS = {
  accessKeyId: "test-access-key",
  secretAccessKey: "test-secret-key-0123456789",
};
let mf: Miniflare;
let binding: R2Bucket;
let bucket: S3Bucket;

beforeAll(async () => {
  mf = new Miniflare(
    convertV4MiniflareOptions({
      host: "127.0.0.1",
      port: 0,
      cf: false,
      log: new Log(LogLevel.WARN),
      workers: [
        {
          name: "r2-s3-test",
          modules: true,
          script: "export default { fetch() { return new Response(null, { status: 404 }); } };",
          compatibilityDate: "2026-10-01",
          r2Buckets: { B: { id: "driftline-dead-letters", s3Credentials: CREDENTIALS } },
        },
      ],
    } as Parameters<typeof convertV4MiniflareOptions>[0]),
  );
  const url = await mf.ready;
  binding = (await mf.getR2Bucket("B")) as unknown as R2Bucket;
  bucket = new S3Bucket({
    endpoint: `${url.origin}/cdn-cgi/local/r2/s3`,
    bucket: "driftline-dead-letters",
    ...CREDENTIALS,
    pageSize: 2,
  });
});

afterAll(async () => {
  await mf?.dispose();
});

describe("S3Bucket", () => {
  it("writes, reads, lists page by page and deletes what the R2 binding sees", async () => {
    const key = "parked/ingest/2026-11-01/a b+c&d-1.json";
    await bucket.put(key, '{"x":1}', {
      httpMetadata: { contentType: "application/json" },
      customMetadata: { messageId: "m1" },
    });
    const seen = await binding.get(key);
    expect(await seen?.text()).toBe('{"x":1}');
    // Metadata names travel as HTTP headers over the S3 API: they arrive lower-cased.
    expect(seen?.customMetadata).toEqual({ messageid: "m1" });
    for (const n of [2, 3, 4, 5]) await binding.put(`parked/ingest/2026-11-01/m${n}.json`, "{}");
    await binding.put("tenants/acme/models/m/1/model.onnx", "x");

    const keys: string[] = [];
    let cursor: string | undefined;
    let pages = 0;
    do {
      const page = await bucket.list({ prefix: "parked/", ...(cursor ? { cursor } : {}) });
      keys.push(...page.objects.map((o) => o.key));
      cursor = page.truncated ? page.cursor : undefined;
      pages++;
    } while (cursor !== undefined);
    expect(pages).toBe(3);
    expect(keys.sort()).toEqual(
      [key, ...[2, 3, 4, 5].map((n) => `parked/ingest/2026-11-01/m${n}.json`)].sort(),
    );

    const got = await bucket.get(key);
    expect(await got?.text()).toBe('{"x":1}');
    expect(got?.customMetadata).toEqual({ messageid: "m1" });
    expect(await bucket.get("parked/none.json")).toBeNull();

    await bucket.delete([key, "tenants/acme/models/m/1/model.onnx"]);
    expect(await binding.get(key)).toBeNull();
    expect(await binding.get("tenants/acme/models/m/1/model.onnx")).toBeNull();
  });

  it("scrubs parked bundles through the S3 API", async () => {
    const record = (t: string) => ({ topic: "events", key: `${t}:e`, value: {} });
    await binding.put(
      "parked/ingest/2026-11-03/z-12.json",
      JSON.stringify({ bundle: 1, attempts: 1, records: [record("acme"), record("zeta")] }),
      { customMetadata: { messageId: "z" } },
    );
    const report = await scrubParkedBundles(bucket, tenantRecordMatcher("acme"));
    expect(report).toMatchObject({ records: 1, rewritten: 1 });
    const left = await binding.get("parked/ingest/2026-11-03/z-12.json");
    expect(JSON.parse(await left!.text()).records).toEqual([record("zeta")]);
    expect(left?.customMetadata).toMatchObject({ messageid: "z", scrubbedrecords: "1" });
  });

  it("reads keys and tokens with XML entities", () => {
    expect(
      parseListObjectsV2(
        "<ListBucketResult><IsTruncated>true</IsTruncated><Contents><Key>a&amp;b&lt;c</Key><Size>1</Size></Contents><NextContinuationToken>t&amp;1</NextContinuationToken></ListBucketResult>",
      ),
    ).toEqual({ keys: ["a&b<c"], truncated: true, cursor: "t&1" });
  });
});
