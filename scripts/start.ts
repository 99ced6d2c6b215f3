// `npm start`: builds the app when the build is missing or older than the sources, then serves it.
import { buildIfStale } from "./build";
import { runFromCommandLine } from "../server/main";

try {
  buildIfStale();
} catch (err) {
  console.error((err as Error).message, "See the messages above.");
  process.exit(1);
}
await runFromCommandLine(process.argv);
