// Helpers shared by the console's browser tests.

/// The text of the first element matching `sel`, or '' when there is none yet.
export const textOf = (page, sel) => page.$eval(sel, (e) => e.textContent).catch(() => '');

/// Logs in through the console's form and waits for the header naming the user.
export async function login(page, env, until, user, password) {
  await page.goto(`${env.http}/console/`);
  await page.waitForSelector('#login-user');
  await page.fill('#login-user', user);
  await page.fill('#login-password', password);
  await page.click('#login-submit');
  await until(`${user} logged in`, () => page.$('#current-user'), 20_000);
}
