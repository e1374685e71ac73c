/**
 * Galata configuration: Debian's Chromium (no browser download here), no video
 * (needs a downloaded ffmpeg), one worker (the embedded model shares 2 cores).
 */
const baseConfig = require('@jupyterlab/galata/lib/playwright-config');

const port = process.env.TWIN_UI_PORT || '18765';
const url = `http://127.0.0.1:${port}`;

module.exports = {
  ...baseConfig,
  timeout: 240000,
  expect: { timeout: 60000 },
  retries: 0,
  workers: 1,
  reporter: [['list'], ['html', { open: 'never' }]],
  use: {
    ...baseConfig.use,
    baseURL: url,
    video: 'off',
    trace: 'off',
    screenshot: 'only-on-failure',
    launchOptions: {
      executablePath: process.env.CHROMIUM_PATH || '/usr/bin/chromium',
      args: [
        '--no-sandbox',
        '--disable-gpu',
        '--disable-dev-shm-usage',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync'
      ]
    }
  },
  webServer: {
    command: 'jlpm start',
    url: `${url}/lab`,
    timeout: 180 * 1000,
    reuseExistingServer: !process.env.CI
  }
};
