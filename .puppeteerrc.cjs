// wgpt drives the system Chromium (Debian's `chromium`); puppeteer's own browser download
// cannot work on the dev/CI machines (no network beyond the package registries).
module.exports = { skipDownload: true };
