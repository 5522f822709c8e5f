// The web console end to end: Debian's Chromium (through playwright-core)
// against the real host on loopback, which serves the console at /console/
// from its binary; then the Playground tab from a plain static server with
// no sessattr server running at all.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { accessibilityViolations, launchChromium, screenshot, startHost, startStaticServer } from './support.mjs';

const ADMIN = ['admin', 'admin-console-password-7f3a'];
const ALICE = ['alice', 'alice-console-password-9c1e'];
const SECRET_VALUE = 'console-secret-value-5d2b8e';
const PLAIN_VALUE = 'plain-value-kept-41aa';
const EDITED_VALUE = 'edited-value-77c0';
const SEALED_VALUE = 'sealed-value-e41f';

let browser;
before(async () => {
  browser = await launchChromium();
});
after(async () => {
  await browser?.close();
});

/** The label of a known session whose text starts with `prefix`. */
async function sessionLabel(page, prefix) {
  const labels = await page.locator('#target-pick option').allTextContents();
  return labels.find((label) => label.startsWith(prefix));
}

/** Every UST and value the page sent, read off its requests (to look for them in the logs). */
function watchSecrets(page) {
  const usts = new Set();
  page.on('request', (request) => {
    const url = new URL(request.url());
    const fields = { ...Object.fromEntries(url.searchParams) };
    try {
      Object.assign(fields, JSON.parse(request.postData() ?? '{}'));
    } catch {
      // not JSON
    }
    for (const name of ['ust', 'current_ust', 'target_ust']) {
      if (typeof fields[name] === 'string') usts.add(fields[name]);
    }
  });
  return usts;
}

/** Uncaught errors of the pages, checked by a test of each suite. */
const pageErrors = [];

describe('sessions view against a real host', () => {
  let host;
  let page;
  let usts;
  before(async () => {
    host = await startHost({ [ADMIN[0]]: [ADMIN[1], true], [ALICE[0]]: [ALICE[1], false] });
    page = await browser.newPage();
    usts = watchSecrets(page);
    page.on('pageerror', (err) => pageErrors.push(err.message));
  });
  after(async () => {
    await page?.close();
    await host?.stop();
  });

  const row = (name) => page.locator(`#attrs tr[data-name="${name}"]`);
  const ownSessionLabel = () => sessionLabel(page, 'my own session');
  const aliceLabel = () => sessionLabel(page, 'alice');

  test('the host serves the console and a super-user signs in', async () => {
    await page.goto(`${host.base}/console/`);
    assert.deepEqual(await accessibilityViolations(page), []);
    const signin = page.locator('#signin');
    await signin.getByLabel('Username').fill(ADMIN[0]);
    await signin.getByLabel('Password').fill(ADMIN[1]);
    await signin.getByRole('button', { name: 'Sign in' }).click();
    await page.locator('#whoami').getByText('Signed in as admin (CRM)').waitFor();
    assert.equal(await signin.isHidden(), true);
    // The on-screen log of requests shows neither the password nor a whole UST.
    await page.locator('#exchanges summary').click();
    const log = await page.locator('#exchange-log').textContent();
    assert.match(log, /POST \/zato\/sso\/user\/login/);
    assert.match(log, /‹password›/);
    assert.equal(log.includes(ADMIN[1]), false, 'password shown');
    for (const ust of usts) assert.equal(log.includes(ust), false, 'a whole UST shown');
    await page.locator('#exchanges summary').click();
    assert.equal(await page.locator('#attrs .empty').textContent(), 'No live attributes in this session.');
  });

  test('wrong credentials show E005001 with its meaning', async () => {
    // A second page, so the signed-in one stays as it is.
    const other = await browser.newPage();
    try {
      await other.goto(`${host.base}/console/`);
      await other.getByLabel('Username').first().fill(ADMIN[0]);
      await other.locator('#signin-password').fill('not-the-password');
      await other.getByRole('button', { name: 'Sign in' }).click();
      const alert = other.getByRole('alert');
      await alert.getByText('E005001').waitFor();
      assert.match(await alert.textContent(), /HTTP 403 · E005001 not allowed/);
    } finally {
      await other.close();
    }
  });

  test('a test user is logged in and becomes the target session', async () => {
    await page.locator('#test-login summary').click();
    const form = page.locator('#test-login-form');
    await form.getByLabel('Username').fill(ALICE[0]);
    await form.getByLabel('Password').fill(ALICE[1]);
    await form.getByRole('button', { name: 'Log in' }).click();
    await page.getByRole('alert').getByText('Logged in alice').waitFor();
    const picked = await page.locator('#target-pick option:checked').textContent();
    assert.match(picked, /^alice \(logged in here\)/);
    assert.match(await page.locator('#session-info').textContent(), /^Session created \d{4}-\d\d-\d\d/);
  });

  /** Fills and sends the single-write form. */
  async function write(op, name, value, { encrypt = '', expiration = '' } = {}) {
    const form = page.locator('#write');
    await form.getByLabel(op).check();
    await form.getByLabel('Name').fill(name);
    await form.getByLabel('Value').fill(value);
    await form.getByLabel('Encryption').selectOption(encrypt);
    await form.getByLabel('Expires in (seconds)').fill(expiration);
    await form.getByRole('button', { name: 'Send' }).click();
  }

  test('an encrypted attribute with a 5 s expiry is listed with its badge and a countdown', async () => {
    await write('Create', 'keep-me', PLAIN_VALUE);
    await row('keep-me').waitFor();
    await write('Create', 'doomed', 'to be deleted');
    await row('doomed').waitFor();
    await write('Create', 'secret-token', SECRET_VALUE, { encrypt: 'true', expiration: '5' });
    await row('secret-token').waitFor();

    const secret = row('secret-token');
    assert.equal(await secret.locator('.badge').textContent(), 'encrypted');
    assert.match(await secret.locator('.countdown').textContent(), /^in [1-5] s$/);
    assert.equal(await secret.getByText(SECRET_VALUE).count(), 0, 'sealed until asked for');
    assert.equal(await row('keep-me').locator('.badge').count(), 0);
    assert.equal(await row('keep-me').locator('[data-label="Expires"]').textContent(), 'never');
    assert.match(await row('keep-me').locator('[data-label="Created"]').textContent(), /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC$/);

    await secret.getByRole('button', { name: 'Decrypt secret-token' }).click();
    await secret.getByText(SECRET_VALUE).waitFor();
    assert.deepEqual(await accessibilityViolations(page), []);
    await screenshot(page, 'session-view');
  });

  test('a duplicate create shows 403 E009001 with its meaning', async () => {
    await write('Create', 'keep-me', 'again');
    const alert = page.getByRole('alert');
    await alert.getByText('E009001').waitFor();
    assert.match(await alert.textContent(), /^HTTP 403 · E009001 attribute already exists/);
    assert.equal(await row('keep-me').locator('.value').textContent(), PLAIN_VALUE, 'nothing overwritten');
  });

  test('another attribute is deleted', async () => {
    await row('doomed').getByRole('button', { name: 'Delete doomed' }).click();
    await row('doomed').waitFor({ state: 'detached' });
    assert.equal(await row('keep-me').count(), 1);
  });

  test('edit sets a listed attribute, and update changes its expiry', async () => {
    await row('keep-me').getByRole('button', { name: 'Edit keep-me' }).click();
    const form = page.locator('#write');
    assert.equal(await form.getByLabel('Set').isChecked(), true, 'edit is a set');
    assert.equal(await form.getByLabel('Name').inputValue(), 'keep-me');
    assert.equal(await form.getByLabel('Value').inputValue(), PLAIN_VALUE);
    await form.getByLabel('Value').fill(EDITED_VALUE);
    await form.getByRole('button', { name: 'Send' }).click();
    await row('keep-me').getByText(EDITED_VALUE).waitFor();

    await write('Update', 'keep-me', EDITED_VALUE, { expiration: '3600' });
    await row('keep-me').locator('.countdown').getByText(/^in (1 h 00 min|59 min \d\d s)$/).waitFor();
    await write('Update', 'never-created', 'x');
    await page.getByRole('alert').getByText('E009002').waitFor();
    assert.match(await page.getByRole('alert').textContent(), /^HTTP 403 · E009002 no such attribute/);
  });

  test('a double click on Send sends one request', async () => {
    const posts = [];
    const count = (request) => {
      if (request.method() === 'POST' && request.url().endsWith('/zato/sso/session/attr')) posts.push(request.postData());
    };
    page.on('request', count);
    const form = page.locator('#write');
    await form.getByLabel('Create').check();
    await form.getByLabel('Name').fill('once');
    await form.getByLabel('Value').fill('x');
    await form.getByLabel('Encryption').selectOption('');
    await form.getByLabel('Expires in (seconds)').fill('');
    await form.getByRole('button', { name: 'Send' }).dblclick();
    await row('once').waitFor();
    page.off('request', count);
    // A second click would have sent its request at once, before the first answer.
    assert.equal(posts.length, 1, posts.join('\n'));
    assert.equal(await page.getByRole('alert').textContent(), 'Created once.');
  });

  test('edit decrypts a sealed value first, so a set keeps it', async () => {
    await write('Create', 'sealed-edit', SEALED_VALUE, { encrypt: 'true' });
    await row('sealed-edit').locator('.sealed').waitFor();
    await row('sealed-edit').getByRole('button', { name: 'Edit sealed-edit' }).click();
    const form = page.locator('#write');
    await form.getByLabel('Value').and(page.locator(':focus')).waitFor();
    assert.equal(await form.getByLabel('Value').inputValue(), SEALED_VALUE);
    assert.equal(await form.getByLabel('Set').isChecked(), true);
  });

  test('a listing still running for the previous target session is not shown', async () => {
    // Hold the answer with alice's attributes until the console has moved
    // to another session.
    let release;
    const held = new Promise((resolve) => { release = resolve; });
    let seen;
    const seenRequest = new Promise((resolve) => { seen = resolve; });
    const listing = (url) => url.pathname === '/zato/sso/session/attr' && url.searchParams.get('decrypt') === 'false';
    await page.route(listing, async (route) => {
      seen(route.request());
      await held;
      await route.continue();
    }, { times: 1 });
    await page.getByRole('button', { name: 'Refresh' }).click();
    const request = await seenRequest;
    await page.getByLabel('Known sessions').selectOption({ label: (await ownSessionLabel()) });
    await page.locator('#attrs .empty').waitFor();
    const finished = page.waitForEvent('requestfinished', (r) => r === request);
    release();
    await finished;
    await page.waitForTimeout(200); // time for a stale answer to be drawn, if it were
    assert.equal(await page.locator('#attrs .empty').count(), 1, 'the own session has no attribute');
    assert.equal(await row('keep-me').count(), 0, "alice's attributes are not shown");
    await page.getByLabel('Known sessions').selectOption({ label: (await aliceLabel()) });
    await row('keep-me').waitFor();
  });

  test('a batch with a failing item writes nothing and names the item', async () => {
    const batch = page.locator('#batch');
    await batch.getByLabel('Operation').selectOption('POST');
    await batch.getByLabel('data (JSON)').fill(JSON.stringify([{ name: 'fresh', value: 'x' }, { name: 'keep-me', value: 'y' }]));
    await batch.getByRole('button', { name: 'Send batch' }).click();
    await page.getByRole('alert').getByText('E009001').waitFor();
    assert.match(await page.getByRole('alert').textContent(), /E009001 attribute already exists \(item 1\)/);
    assert.equal(await row('fresh').count(), 0, 'all or nothing');
  });

  test('the expired attribute disappears when its countdown runs out', async () => {
    // No refresh is clicked: the countdown reaching zero re-reads the list,
    // and the server no longer returns the dead attribute.
    await row('secret-token').waitFor({ state: 'detached', timeout: 15_000 });
    assert.equal(await row('keep-me').count(), 1);
  });

  test('the phone-width layout shows every attribute as a card', async () => {
    await page.setViewportSize({ width: 390, height: 844 });
    const box = await row('keep-me').boundingBox();
    assert.ok(box.width <= 390, `a row fits the phone's width (${box.width} px)`);
    const label = await row('keep-me').locator('[data-label="Value"]').evaluate((cell) => getComputedStyle(cell, '::before').content);
    assert.equal(label, '"Value"');
    await screenshot(page, 'session-view-phone');
    await page.setViewportSize({ width: 1280, height: 900 });
  });

  test('signing out forgets every token; none was stored in the browser', async () => {
    const stored = await page.evaluate(() => [localStorage.length, sessionStorage.length, document.cookie]);
    assert.deepEqual(stored, [0, 0, '']);
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.locator('#signin').waitFor();
    assert.equal(await page.locator('#workspace').isHidden(), true);
    assert.match(await page.getByRole('alert').textContent(), /^Signed out: the sessions this console opened are ended/);
    // Nothing of the session is left in the page for the next person.
    const html = await page.content();
    for (const secret of [...usts, ADMIN[1], ALICE[1], SECRET_VALUE, PLAIN_VALUE, EDITED_VALUE, SEALED_VALUE, 'keep-me']) {
      assert.equal(html.includes(secret), false, `the page still holds ${secret.slice(0, 4)}…`);
    }
  });

  test('the pages raised no uncaught error', () => {
    assert.deepEqual(pageErrors, []);
  });

  test('the host logged no UST, password or value', () => {
    const log = host.log();
    assert.ok(usts.size >= 2, 'the page sent USTs');
    assert.match(log, /\/zato\/sso\/session\/attr/, 'the host logged the requests');
    for (const secret of [...usts, ADMIN[1], ALICE[1], SECRET_VALUE, PLAIN_VALUE, EDITED_VALUE, SEALED_VALUE]) {
      assert.equal(log.includes(secret), false, `the log holds a secret (${secret.slice(0, 4)}…)`);
    }
  });
});

describe('playground with no server', () => {
  let site;
  let page;
  const apiCalls = [];
  before(async () => {
    site = await startStaticServer();
    page = await browser.newPage();
    page.on('request', (request) => {
      if (request.url().includes('/zato/')) apiCalls.push(request.url());
    });
    page.on('pageerror', (err) => pageErrors.push(err.message));
  });
  after(async () => {
    await page?.close();
    await site?.stop();
  });

  test('the tabs follow the keyboard', async () => {
    await page.goto(`${site.base}/`);
    await page.getByRole('tab', { name: 'Sessions' }).focus();
    const selected = async () => (await page.getByRole('tab', { selected: true }).textContent());
    for (const [key, tab] of [['ArrowRight', 'Playground'], ['ArrowLeft', 'Sessions'], ['End', 'Playground'], ['Home', 'Sessions'], ['ArrowLeft', 'Playground']]) {
      await page.keyboard.press(key);
      assert.equal(await selected(), tab, key);
      assert.equal(await page.evaluate(() => document.activeElement.textContent), tab, `${key} moves the focus`);
    }
    assert.equal(await page.locator('#panel-playground').isVisible(), true);
    assert.equal(await page.locator('#panel-console').isVisible(), false);
  });

  test('create then get run in the page, with request, response and stored record', async () => {
    await page.locator('#pg-status').getByText('Module running in this page').waitFor();
    const form = page.locator('#pg-form');
    await form.getByRole('button', { name: 'Create', exact: true }).click();
    await form.getByRole('button', { name: 'Send' }).click();
    await page.locator('#pg-response').getByText('HTTP 200').waitFor();
    assert.match(await page.locator('#pg-request').textContent(), /^POST \/zato\/sso\/session\/attr\n\n\{\n {2}"current_ust"/);
    const response = JSON.parse((await page.locator('#pg-response').textContent()).split('\n\n')[1]);
    assert.equal(response.status, 'ok');
    assert.match(response.cid, /^[0-9a-f]{24}$/);

    const record = page.locator('#pg-records .record.added').filter({ hasText: ':my-attr' });
    assert.equal(await record.count(), 1, 'the attribute record was added');
    const stored = JSON.parse(await record.locator('pre').textContent());
    assert.equal(stored.name, 'my-attr');
    assert.equal(JSON.stringify(stored).includes('my-value'), false, 'the stored record holds no plaintext');

    await form.getByRole('button', { name: 'Get', exact: true }).click();
    await form.getByRole('button', { name: 'Send' }).click();
    await page.locator('#pg-response').getByText('"value": "my-value"').waitFor();
    const got = JSON.parse((await page.locator('#pg-response').textContent()).split('\n\n')[1]);
    assert.equal(got.found, true);
    assert.equal(got.is_encrypted, true);
    assert.equal(await page.locator('#pg-records').textContent(), 'No record changed.');
    assert.deepEqual(await accessibilityViolations(page), []);
    await screenshot(page, 'playground');
  });

  test('a duplicate create in the playground explains E009001', async () => {
    const form = page.locator('#pg-form');
    await form.getByRole('button', { name: 'Create', exact: true }).click();
    await form.getByRole('button', { name: 'Send' }).click();
    await page.locator('#pg-response').getByText('E009001 attribute already exists').waitFor();
    assert.match(await page.locator('#pg-response').textContent(), /^HTTP 403/);
  });

  test('nothing reached a server, and no uncaught error', () => {
    assert.deepEqual(apiCalls, []);
    assert.deepEqual(pageErrors, []);
  });
});

describe('the static folder on another origin', () => {
  let site;
  let host;
  let page;
  before(async () => {
    site = await startStaticServer();
    host = await startHost({ [ADMIN[0]]: [ADMIN[1], true] }, ['--allow-origin', site.base]);
    page = await browser.newPage();
    page.on('pageerror', (err) => pageErrors.push(err.message));
  });
  after(async () => {
    await page?.close();
    await host?.stop();
    await site?.stop();
  });

  test('signs in to a host that allows its origin (CORS) and writes an attribute', async () => {
    await page.goto(`${site.base}/`);
    const signin = page.locator('#signin');
    await signin.getByLabel('Username').fill(ADMIN[0]);
    await signin.getByLabel('Password').fill(ADMIN[1]);
    await signin.locator('summary').click();
    await signin.getByLabel(/^Server address/).fill(host.base);
    await signin.getByRole('button', { name: 'Sign in' }).click();
    await page.locator('#whoami').getByText('Signed in as admin (CRM)').waitFor();
    const form = page.locator('#write');
    await form.getByLabel('Name').fill('cross-origin');
    await form.getByLabel('Value').fill('works');
    await form.getByRole('button', { name: 'Send' }).click();
    await page.locator('#attrs tr[data-name="cross-origin"]').waitFor();
    assert.deepEqual(pageErrors, []);
  });
});
