/** The console's front-end files, addressed by content-hashed names so they can be cached for good. */

export interface ConsoleAsset {
  body: string;
  contentType: string;
}

export interface ConsoleAssetTable {
  /** Hashed file names (under /dashboard/assets/) of the page's script and stylesheet. */
  script: string;
  stylesheet: string;
  files: ReadonlyMap<string, ConsoleAsset>;
}

export interface ConsoleAssets {
  load(): Promise<ConsoleAssetTable>;
}

/** `name.<first 12 hex of SHA-256>.ext`: a new build gets new URLs, so old ones may be immutable. */
export async function hashedName(name: string, body: string): Promise<string> {
  const digest = new Uint8Array(
    await crypto.subtle.digest("SHA-256", new TextEncoder().encode(body)),
  );
  const hex = Array.from(digest.slice(0, 6), (b) => b.toString(16).padStart(2, "0")).join("");
  const dot = name.lastIndexOf(".");
  return `${name.slice(0, dot)}.${hex}${name.slice(dot)}`;
}

/** A table over in-memory files, hashed once. */
export function consoleAssetsFrom(script: string, stylesheet: string): ConsoleAssets {
  let table: Promise<ConsoleAssetTable> | undefined;
  return {
    load() {
      table ??= (async () => {
        const scriptName = await hashedName("console.js", script);
        const styleName = await hashedName("console.css", stylesheet);
        return {
          script: scriptName,
          stylesheet: styleName,
          files: new Map([
            [scriptName, { body: script, contentType: "text/javascript; charset=utf-8" }],
            [styleName, { body: stylesheet, contentType: "text/css; charset=utf-8" }],
          ]),
        };
      })();
      return table;
    },
  };
}
