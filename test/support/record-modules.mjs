// Preloaded with `node --import`: writes the URL of every module this process loads through the ESM
// loader to the file named by HEARTH_RECORD_MODULES (one per line). Used to prove what a process
// does not load (the node agent: no Prisma, no next-auth, no web server).
import { register } from "node:module";

register("./record-modules-hooks.mjs", import.meta.url, { data: { file: process.env.HEARTH_RECORD_MODULES } });
