import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pino from 'pino';
import { BrowserContext, chromium, Page } from 'playwright-core';
import { loadServeConfig } from '../../src/config/serve-config';
import { findRepoRoot } from '../../src/models/registry';
import { RunningServer, startServe } from '../../src/serve/start-serve';
import { allFixtures } from '../support/fixtures';
import { openFleet, TestFleet } from '../support/fleet';
import { PrivateRedis, startRedis, uniqueQueue } from '../../tools/harness/redis';
import { testAllowedLocations } from '../support/test-roots';

/** Debian's chromium (`apt-get install chromium`); playwright's own browser downloads cannot work here. */
const CHROMIUM = '/usr/bin/chromium';
const ARTIFACTS = path.join(findRepoRoot(), 'test-artifacts', 'console');

/**
 * The web console in a real headless Chromium against a running `facefleet serve` (real Redis, a real
 * worker): upload a photo and find the drawn boxes; open a finished run and see its progress, failures
 * and results gallery; the token prompt when auth is on. Screenshots go to test-artifacts/console/.
 */
describe('web console in Chromium', () => {
  let redis: PrivateRedis;
  let server: RunningServer;
  let fleet: TestFleet;
  let context: BrowserContext;
  let tmp: string;
  const fixtures = allFixtures();
  const grid = fixtures.find((f) => f.file === 'astronaut-grid4.jpg')!;
  const runId = 'console-run';
  const browserErrors: string[] = [];
  const failedLoads: string[] = [];

  beforeAll(async () => {
    if (!fs.existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} not found: install Debian's chromium (apt-get install chromium)`);
    fs.mkdirSync(ARTIFACTS, { recursive: true });
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'ff-console-'));
    redis = await startRedis();
    const queue = uniqueQueue('console');
    server = await startServe(loadServeConfig({ redisUrl: redis.url, queue, port: 0, batch: 4, allowedLocations: testAllowedLocations() }, {}), pino({ level: 'silent' }), { handleSignals: false });
    fleet = openFleet(redis.url, queue);
    await fleet.startWorker({ batch: 4 });
    const res = await fetch(`${server.url}/v1/jobs`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ runId, keys: fixtures.map((f) => path.relative(f.folder, f.path)), base: `file://${fixtures[0].folder}/`, results: `file://${tmp}/results` }),
    });
    expect(res.status).toBe(201);
    await fleet.waitForRun(runId);
    context = await launch(path.join(tmp, 'profile'));
  });

  afterAll(async () => {
    await context?.close();
    await server?.lifecycle.close();
    await fleet?.close();
    await redis?.stop();
    if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
  });

  async function open(url: string): Promise<Page> {
    const page = await context.newPage();
    page.on('pageerror', (err) => browserErrors.push(`pageerror: ${err.message}`));
    // Failed loads are recorded with their URL from the response; the console repeats them without one.
    page.on('console', (msg) => {
      if (msg.type() === 'error' && !msg.text().startsWith('Failed to load resource')) browserErrors.push(`console: ${msg.text()}`);
    });
    page.on('response', (res) => {
      if (res.status() >= 400) failedLoads.push(`${res.status()} ${new URL(res.url()).pathname}`);
    });
    page.on('requestfailed', (req) => browserErrors.push(`requestfailed: ${req.url()} ${req.failure()?.errorText}`));
    await page.goto(url);
    return page;
  }

  it('Try it: an uploaded photo comes back with its faces drawn over it and the JSON beside it', async () => {
    const page = await open(`${server.url}/#/try`);
    await page.setInputFiles('#file', grid.path);
    await page.waitForSelector('#try-canvas[data-state="done"]', { timeout: 30_000 });
    const canvas = page.locator('#try-canvas');
    expect(await canvas.getAttribute('data-face-count')).toBe(String(grid.faces.length));
    const boxes = JSON.parse((await canvas.getAttribute('data-boxes')) ?? '[]') as number[][];
    expect(boxes).toHaveLength(grid.faces.length);
    const json = JSON.parse((await page.locator('#try-json').textContent()) ?? '{}') as { schema: string; faces: unknown[]; image: { width: number } };
    expect(json.schema).toBe('https://facefleet.dev/schemas/result/v1');
    expect(json.faces).toHaveLength(grid.faces.length);
    // The box outline is really on the canvas: the pixel at the middle of a box's top edge is the box green.
    const [x1, y1, x2] = boxes[0];
    const rgb = (await page.evaluate(`Array.from(document.querySelector('#try-canvas').getContext('2d').getImageData(${Math.round((x1 + x2) / 2)}, ${y1}, 1, 1).data.slice(0, 3))`)) as number[];
    expect(rgb[1]).toBeGreaterThan(180);
    expect(rgb[0]).toBeLessThan(80);
    expect(await page.locator('#try-status').textContent()).toContain('4 faces');
    await page.screenshot({ path: path.join(ARTIFACTS, 'try-it.png'), fullPage: true });

    await page.setInputFiles('#file', fixtures.find((f) => f.file === 'not-an-image.jpg')!.path);
    await page.waitForSelector('#try-canvas[data-state="error"]');
    expect(await canvas.getAttribute('data-error-code')).toBe('E_UNSUPPORTED_FORMAT');
    await page.close();
  });

  it('Runs: the list shows the finished run with a full progress bar', async () => {
    const page = await open(`${server.url}/#/runs`);
    const row = page.locator(`#runs-table tr[data-run-id="${runId}"]`);
    await row.waitFor();
    expect(await row.getAttribute('data-state')).toBe('finished');
    const bar = row.locator('[role="progressbar"]');
    expect(await bar.getAttribute('aria-valuenow')).toBe(String(fixtures.length));
    expect(await bar.getAttribute('aria-valuemax')).toBe(String(fixtures.length));
    await page.screenshot({ path: path.join(ARTIFACTS, 'runs.png'), fullPage: true });
    await row.locator('a').click();
    await page.waitForSelector('#run-progress[data-state="finished"]');
    expect(page.url()).toContain(`#/runs/${runId}`);
    await page.close();
  });

  it("a run's page: progress, failures by code, and a gallery of results with boxes drawn", async () => {
    const page = await open(`${server.url}/#/runs/${runId}`);
    const progress = page.locator('#run-progress');
    await page.waitForSelector('#run-progress[data-state="finished"]');
    expect(await progress.getAttribute('data-finished')).toBe(String(fixtures.length));
    expect(await progress.getAttribute('data-total')).toBe(String(fixtures.length));
    const failed = fixtures.filter((f) => f.expectError);
    expect(await progress.getAttribute('data-failed')).toBe(String(failed.length));
    expect(await page.locator('#run-failures tr[data-code="E_DECODE"] td.num').textContent()).toBe('1');
    expect(await page.locator('#run-failures tr[data-code="E_UNSUPPORTED_FORMAT"] td.num').textContent()).toBe(String(failed.length - 1));

    await page.waitForSelector('#gallery[data-state="done"]', { timeout: 30_000 });
    const cards = page.locator('#gallery figure.card');
    expect(await cards.count()).toBe(fixtures.length - failed.length);
    expect(await page.locator('#gallery figure.card[data-state="done"]').count()).toBe(fixtures.length - failed.length);
    const gridCard = page.locator('#gallery figure.card[data-key="astronaut-grid4.jpg"]');
    expect(await gridCard.getAttribute('data-face-count')).toBe('4');
    const drawn = JSON.parse((await gridCard.locator('canvas').getAttribute('data-boxes')) ?? '[]') as number[][];
    expect(drawn).toHaveLength(4);
    // Boxes are scaled from original pixels to the preview: all inside the canvas, none degenerate.
    const size = [Number(await gridCard.locator('canvas').getAttribute('width')), Number(await gridCard.locator('canvas').getAttribute('height'))];
    expect(Math.max(...size)).toBe(480);
    for (const [x1, y1, x2, y2] of drawn) {
      expect(x2 - x1).toBeGreaterThan(10);
      expect(x2).toBeLessThanOrEqual(size[0]);
      expect(y2).toBeLessThanOrEqual(size[1]);
      expect(Math.min(x1, y1)).toBeGreaterThanOrEqual(0);
    }
    expect(await page.locator('#gallery figure.card[data-key="coffee-noface.png"]').getAttribute('data-face-count')).toBe('0');
    await page.screenshot({ path: path.join(ARTIFACTS, 'run.png'), fullPage: true });
    await page.close();
  });

  it("a run's transient failures get a retry button that sends them back and the page follows the run to its end", async () => {
    // A symlink loop where a photo should be: resolving it fails with ELOOP, which the file store
    // does not classify, so a transient E_STORAGE. (A socket or FIFO there is a permanent E_NOT_FOUND.)
    const src = path.join(tmp, 'flaky');
    fs.mkdirSync(src);
    const loopPath = path.join(src, 'flaky.jpg');
    fs.symlinkSync('flaky.jpg', loopPath);
    const once = await startServe(loadServeConfig({ redisUrl: redis.url, queue: fleet.queueName, port: 0, attempts: 1, allowedLocations: testAllowedLocations() }, {}), pino({ level: 'silent' }), { handleSignals: false });
    try {
      const res = await fetch(`${once.url}/v1/jobs`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ runId: 'console-retry', keys: ['flaky.jpg'], base: `file://${src}/`, results: `file://${tmp}/retry-results` }) });
      expect(res.status).toBe(201);
      await fleet.waitForRun('console-retry');
    } finally {
      await once.lifecycle.close();
    }
    const page = await open(`${server.url}/#/runs/console-retry`);
    await page.waitForSelector('#run-progress[data-state="finished"][data-failed="1"]');
    expect(await page.locator('#run-failures tr[data-code="E_STORAGE"] td.num').textContent()).toBe('1');
    const button = page.locator('#run-retry');
    expect(await button.textContent()).toContain('Retry 1 failed image');
    await page.screenshot({ path: path.join(ARTIFACTS, 'run-retry-before.png'), fullPage: true });

    fs.rmSync(loopPath, { force: true });
    fs.copyFileSync(grid.path, loopPath);
    await button.click();
    await page.waitForSelector('#retry-status[data-retried="1"]');
    await page.waitForSelector('#run-progress[data-state="finished"][data-failed="0"]', { timeout: 30_000 });
    expect(await page.locator('#run-progress').getAttribute('data-finished')).toBe('1');
    expect(await button.isHidden()).toBe(true);
    await page.waitForSelector('#gallery figure.card[data-key="flaky.jpg"][data-state="done"][data-face-count="4"]', { timeout: 30_000 });
    await page.screenshot({ path: path.join(ARTIFACTS, 'run-retry-after.png'), fullPage: true });
    await page.close();
  });

  it('Queues: the console opens the BullMQ board for the queue', async () => {
    const page = await open(`${server.url}/#/runs`);
    await page.click('#queues-link');
    await page.waitForURL(`${server.url}/queues/`);
    await page.getByText(fleet.queueName).first().click({ timeout: 30_000 });
    // The queue's page lists its job states; the run above completed 9 jobs and failed 3.
    await page.getByText(/completed/i).first().waitFor({ timeout: 30_000 });
    await page.waitForLoadState('networkidle');
    await page.screenshot({ path: path.join(ARTIFACTS, 'queues.png') });
    await page.close();
  });

  it('asks for the token when the server requires one, then works', async () => {
    const token = 'console-token-0123456789';
    const locked = await startServe(loadServeConfig({ redisUrl: redis.url, queue: uniqueQueue('console-auth'), port: 0, allowedLocations: testAllowedLocations() }, { FACEFLEET_API_TOKEN: token }), pino({ level: 'silent' }), { handleSignals: false });
    try {
      const page = await open(`${locked.url}/#/try`);
      await page.setInputFiles('#file', grid.path);
      await page.waitForSelector('#token-dialog[open]');
      await page.fill('#token-input', token);
      await page.click('#token-ok');
      await page.waitForSelector('#try-canvas[data-state="done"]', { timeout: 30_000 });
      expect(await page.locator('#try-canvas').getAttribute('data-face-count')).toBe('4');
      await page.screenshot({ path: path.join(ARTIFACTS, 'try-it-with-token.png') });
      // With auth on the board needs the cookie the console asks for with the token it holds.
      await page.click('#queues-link');
      await page.waitForURL(`${locked.url}/queues/`);
      await page.getByText('console-auth').first().waitFor({ timeout: 30_000 });
      await page.close();
    } finally {
      await locked.lifecycle.close();
    }
  });

  it('loaded every page without script errors, and failed only the requests meant to fail', () => {
    expect(browserErrors).toEqual([]);
    // The text file sent to Try it, and the first upload to the locked server (before the token).
    expect(failedLoads.sort()).toEqual(['401 /v1/detect', '415 /v1/detect']);
  });
});

/** Headless Debian chromium with a fresh profile and nothing phoning home. */
function launch(profile: string): Promise<BrowserContext> {
  return chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    viewport: { width: 1280, height: 900 },
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
}
