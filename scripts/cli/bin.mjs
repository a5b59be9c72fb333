#!/usr/bin/env node
// The `driftline` executable (package.json "bin"): the command is TypeScript, run through tsx's
// loader, which resolves from this file so the command works from any directory.
import { register } from "tsx/esm/api";

register();
const { main } = await import("./main.ts");
await main();
