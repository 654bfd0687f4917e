// The routes served without a token: the live view's page and its files
// (api/routes/ui.ts, marked publicAsset). Every other route needs one.
export const PUBLIC_ASSETS: ReadonlySet<string> = new Set(['GET /', 'HEAD /', 'GET /ui/:file', 'HEAD /ui/:file'])
