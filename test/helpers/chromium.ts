/**
 * Headless Chromium for tests and scripts that look at an HTML page as a browser renders it
 * (Debian's `chromium`; `apt-get install chromium`). Absent, callers skip the browser check and say so.
 */
import { execFile, spawnSync } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** A Chromium executable: CHROMIUM_PATH, else chromium, chromium-browser or google-chrome on PATH. */
export function chromiumPath(): string | undefined {
  if (process.env['CHROMIUM_PATH']) return process.env['CHROMIUM_PATH'];
  for (const name of ['chromium', 'chromium-browser', 'google-chrome']) {
    const found = spawnSync('which', [name], { encoding: 'utf8' });
    if (found.status === 0 && found.stdout.trim()) return found.stdout.trim();
  }
  return undefined;
}

/** Flags for a headless run as root in a container: no sandbox, no GPU, a fixed scale. */
const HEADLESS = ['--headless', '--no-sandbox', '--disable-gpu', '--hide-scrollbars', '--force-device-scale-factor=1'];

/** The DOM of a page after Chromium has parsed and laid it out, serialised. */
export async function dumpDom(chromium: string, htmlFile: string): Promise<string> {
  const { stdout } = await run(chromium, [...HEADLESS, '--dump-dom', `file://${path.resolve(htmlFile)}`], {
    timeout: 60_000,
    maxBuffer: 64 * 1024 * 1024,
  });
  return stdout;
}

/** A PNG of the page's first `height` pixels at `width` px wide. */
export async function screenshot(
  chromium: string,
  htmlFile: string,
  pngFile: string,
  width = 1280,
  height = 2000,
): Promise<void> {
  await run(
    chromium,
    [
      ...HEADLESS,
      `--window-size=${width},${height}`,
      `--screenshot=${path.resolve(pngFile)}`,
      `file://${path.resolve(htmlFile)}`,
    ],
    { timeout: 60_000 },
  );
}
