/**
 * An R2 bucket over R2's S3-compatible API (aws4fetch signs each request with SigV4), so the
 * operator commands reach a deployment's buckets from outside the Worker. Only what they use:
 * list by prefix, get, put with metadata, delete. Custom metadata names travel as HTTP headers
 * (`x-amz-meta-*`), so they come back lower-cased, as with any S3 client.
 */
import { AwsClient } from "aws4fetch";
import type { OperatorBucket } from "./local/local-r2";

export interface S3BucketOptions {
  /** `https://<account id>.r2.cloudflarestorage.com` (or any S3 endpoint, path-style). */
  endpoint: string;
  bucket: string;
  accessKeyId: string;
  secretAccessKey: string;
  /** Keys per list page (S3's max-keys); the default is S3's own, 1000. */
  pageSize?: number;
}

const META = "x-amz-meta-";

/** Encodes a key for the path: each segment as S3 expects, slashes kept. */
function keyPath(key: string): string {
  return key
    .split("/")
    .map((s) =>
      encodeURIComponent(s).replace(
        /[!'()*]/g,
        (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`,
      ),
    )
    .join("/");
}

function xmlText(s: string): string {
  return s
    .replace(/&lt;/g, "<")
    .replace(/&gt;/g, ">")
    .replace(/&quot;/g, '"')
    .replace(/&apos;/g, "'")
    .replace(/&#(\d+);/g, (_, d: string) => String.fromCodePoint(Number(d)))
    .replace(/&#x([0-9a-f]+);/gi, (_, h: string) => String.fromCodePoint(Number.parseInt(h, 16)))
    .replace(/&amp;/g, "&");
}

/**
 * The three facts a ListObjectsV2 answer gives these commands (keys, truncation, the next token)
 * are read with patterns: S3 writes them as flat text elements, and an XML parser dependency for
 * three elements would be more code to trust than these lines.
 */
export function parseListObjectsV2(xml: string): {
  keys: string[];
  truncated: boolean;
  cursor?: string;
} {
  const keys = [
    ...xml.matchAll(/<Contents>[\s\S]*?<Key>([\s\S]*?)<\/Key>[\s\S]*?<\/Contents>/g),
  ].map((m) => xmlText(m[1]!));
  const truncated = /<IsTruncated>\s*true\s*<\/IsTruncated>/.test(xml);
  const token = /<NextContinuationToken>([\s\S]*?)<\/NextContinuationToken>/.exec(xml)?.[1];
  return { keys, truncated, ...(token === undefined ? {} : { cursor: xmlText(token) }) };
}

export class S3Bucket implements OperatorBucket {
  private readonly client: AwsClient;
  private readonly base: string;

  constructor(private readonly options: S3BucketOptions) {
    this.client = new AwsClient({
      accessKeyId: options.accessKeyId,
      secretAccessKey: options.secretAccessKey,
      service: "s3",
      region: "auto",
    });
    this.base = `${options.endpoint.replace(/\/+$/, "")}/${encodeURIComponent(options.bucket)}`;
  }

  private async send(url: string, init: RequestInit, ok: (status: number) => boolean) {
    const res = await this.client.fetch(url, init);
    if (!ok(res.status)) {
      const body = await res.text().catch(() => "");
      throw new Error(
        `R2 (S3 API) ${init.method ?? "GET"} ${this.options.bucket} answered ${res.status}: ${body.slice(0, 300)}`,
      );
    }
    return res;
  }

  async list(options: { prefix: string; cursor?: string }) {
    const url = new URL(this.base);
    url.searchParams.set("list-type", "2");
    url.searchParams.set("prefix", options.prefix);
    if (this.options.pageSize !== undefined) {
      url.searchParams.set("max-keys", String(this.options.pageSize));
    }
    if (options.cursor !== undefined) url.searchParams.set("continuation-token", options.cursor);
    const res = await this.send(url.toString(), { method: "GET" }, (s) => s === 200);
    const page = parseListObjectsV2(await res.text());
    return {
      objects: page.keys.map((key) => ({ key })),
      truncated: page.truncated,
      ...(page.cursor === undefined ? {} : { cursor: page.cursor }),
    };
  }

  async get(key: string) {
    const res = await this.send(
      `${this.base}/${keyPath(key)}`,
      { method: "GET" },
      (s) => s === 200 || s === 404,
    );
    if (res.status === 404) {
      await res.body?.cancel();
      return null;
    }
    const customMetadata: Record<string, string> = {};
    res.headers.forEach((value, name) => {
      if (name.toLowerCase().startsWith(META)) customMetadata[name.slice(META.length)] = value;
    });
    const text = await res.text();
    return { text: async () => text, customMetadata };
  }

  async put(
    key: string,
    value: string,
    options: { httpMetadata: { contentType: string }; customMetadata: Record<string, string> },
  ) {
    const headers: Record<string, string> = { "content-type": options.httpMetadata.contentType };
    for (const [k, v] of Object.entries(options.customMetadata)) headers[`${META}${k}`] = v;
    await this.send(
      `${this.base}/${keyPath(key)}`,
      { method: "PUT", headers, body: value },
      (s) => s === 200,
    );
  }

  async delete(keys: string | string[]) {
    for (const key of Array.isArray(keys) ? keys : [keys]) {
      await this.send(
        `${this.base}/${keyPath(key)}`,
        { method: "DELETE" },
        (s) => s === 204 || s === 200,
      );
    }
  }
}
