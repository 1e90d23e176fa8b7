// A real OpenID provider for the test suite: the certified `oidc-provider` package, over HTTPS,
// with a sign-in page of our own (any login name; the test says which acr and amr it yields),
// consent granted for first-party clients, RP-initiated and back-channel logout.
//
// Test controls under /__test__/ (never part of the product):
//   POST /__test__/accounts       {login: {claims}}   claims of people by login name
//   POST /__test__/next-login     {acr, amr}          what the next sign-ins yield
//   POST /__test__/tamper         {mode}              spoil the next ID token the token endpoint returns
//   GET  /__test__/logouts                            the back-channel logout calls made so far
//
// Usage: node provider.mjs config.json  (prints "listening" once it serves)
import { readFileSync } from "node:fs";
import https from "node:https";
import { generateKeyPair, exportJWK, importJWK, SignJWT, decodeJwt, decodeProtectedHeader } from "jose";
import Provider from "oidc-provider";

const config = JSON.parse(readFileSync(process.argv[2], "utf8"));
const state = {
  accounts: {},
  nextLogin: { acr: "urn:bank:loa:substantial", amr: ["pwd"] },
  tamper: null,
  logouts: [],
};
const signingJwk = config.jwks.keys[0];

async function readBody(req) {
  const chunks = [];
  for await (const chunk of req) chunks.push(chunk);
  return Buffer.concat(chunks).toString("utf8");
}

function send(res, status, body, type = "application/json") {
  res.writeHead(status, { "content-type": type, "cache-control": "no-store" });
  res.end(typeof body === "string" ? body : JSON.stringify(body));
}

async function tamperIdToken(idToken, mode) {
  const claims = decodeJwt(idToken);
  const header = decodeProtectedHeader(idToken);
  const now = Math.floor(Date.now() / 1000);
  let key = await importJWK(signingJwk, header.alg);
  let kid = header.kid;
  if (mode === "bad-signature") {
    const [h, p, s] = idToken.split(".");
    const flipped = (s[5] === "A" ? "B" : "A");
    return `${h}.${p}.${s.slice(0, 5)}${flipped}${s.slice(6)}`;
  }
  if (mode === "wrong-audience") claims.aud = "someone-else";
  if (mode === "wrong-issuer") claims.iss = "https://evil.example";
  if (mode === "wrong-nonce") claims.nonce = "not-the-nonce";
  if (mode === "expired") {
    claims.iat = now - 7200;
    claims.exp = now - 3600;
  }
  if (mode === "unknown-kid") {
    const other = await generateKeyPair(header.alg);
    key = other.privateKey;
    kid = "not-a-key-of-this-provider";
  }
  return new SignJWT(claims).setProtectedHeader({ alg: header.alg, kid, typ: header.typ }).sign(key);
}

const provider = new Provider(config.issuer, {
  clients: config.clients,
  jwks: config.jwks,
  cookies: { keys: ["a-test-only-cookie-key-of-enough-length"] },
  pkce: { required: () => true },
  scopes: ["openid", "profile", "email", "groups", "nin"],
  claims: {
    acr: null,
    amr: null,
    auth_time: null,
    sid: null,
    openid: ["sub", "acr", "amr", "auth_time", "sid"],
    profile: ["name", "preferred_username"],
    email: ["email"],
    groups: ["groups"],
    nin: ["nin"],
  },
  acrValues: ["urn:bank:loa:substantial", "urn:bank:loa:high"],
  conformIdTokenClaims: false,
  features: {
    devInteractions: { enabled: false },
    rpInitiatedLogout: { enabled: true },
    backchannelLogout: { enabled: true },
  },
  interactions: { url: (ctx, interaction) => `/interaction/${interaction.uid}` },
  async findAccount(ctx, id) {
    return {
      accountId: id,
      async claims() {
        return { sub: id, preferred_username: id, ...(state.accounts[id] || {}) };
      },
    };
  },
  // First-party clients: everything they ask for is granted without a consent page.
  async loadExistingGrant(ctx) {
    const grantId =
      ctx.oidc.result?.consent?.grantId || ctx.oidc.session.grantIdFor(ctx.oidc.client.clientId);
    if (grantId) return ctx.oidc.provider.Grant.find(grantId);
    const grant = new ctx.oidc.provider.Grant({
      clientId: ctx.oidc.client.clientId,
      accountId: ctx.oidc.session.accountId,
    });
    grant.addOIDCScope("openid profile email groups nin");
    grant.addOIDCClaims(["sub", "name", "preferred_username", "email", "groups", "nin", "acr", "amr", "auth_time"]);
    await grant.save();
    return grant;
  },
  // The portal runs on loopback in the tests; the provider refuses loopback targets unless its
  // fetch is given a plain one. Each call is recorded for the replay tests.
  fetch: async (url, options) => {
    delete options.dispatcher;
    const body = options.body ? String(options.body) : "";
    const response = await globalThis.fetch(url, options);
    state.logouts.push({ url: String(url), status: response.status, body });
    return response;
  },
  ttl: { Session: 3600, Interaction: 600, Grant: 3600, AccessToken: 600, IdToken: 600, AuthorizationCode: 60 },
  renderError(ctx, out) {
    ctx.type = "html";
    ctx.body = `<!DOCTYPE html><html lang="en"><title>Error</title><main><h1>Sign-in error</h1><p>${out.error}</p></main></html>`;
  },
});
provider.proxy = false;

// Spoil the next ID token on its way out of the token endpoint, when a test asks for it.
provider.use(async (ctx, next) => {
  await next();
  if (ctx.path === "/token" && state.tamper && ctx.body && ctx.body.id_token) {
    const mode = state.tamper;
    state.tamper = null;
    ctx.body = { ...ctx.body, id_token: await tamperIdToken(ctx.body.id_token, mode) };
  }
});

function loginPage(uid, details) {
  const client = details.params.client_id;
  return `<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>Bank sign-in</title></head>
<body><main><h1>Bank sign-in</h1><p>Signing in to ${client}</p>
<form method="post" action="/interaction/${uid}/login">
<label for="login">Login name</label> <input id="login" name="login" autocomplete="username" autofocus>
<button type="submit">Sign in at the bank</button></form></main></body></html>`;
}

const callback = provider.callback();
const server = https.createServer(
  { cert: readFileSync(config.certFile), key: readFileSync(config.keyFile) },
  async (req, res) => {
    try {
      const url = new URL(req.url, config.issuer);
      if (url.pathname.startsWith("/__test__/")) {
        if (req.method === "GET" && url.pathname === "/__test__/logouts") return send(res, 200, state.logouts);
        const body = JSON.parse((await readBody(req)) || "{}");
        if (url.pathname === "/__test__/accounts") Object.assign(state.accounts, body);
        else if (url.pathname === "/__test__/next-login") state.nextLogin = body;
        else if (url.pathname === "/__test__/tamper") state.tamper = body.mode;
        else return send(res, 404, { error: "unknown control" });
        return send(res, 200, { ok: true });
      }
      const interaction = url.pathname.match(/^\/interaction\/([^/]+)(\/login)?$/);
      if (interaction) {
        const details = await provider.interactionDetails(req, res);
        if (req.method === "POST" && interaction[2]) {
          const form = new URLSearchParams(await readBody(req));
          const acr = details.params.acr_values && !state.nextLogin.ignoreAcrValues
            ? String(details.params.acr_values).split(" ")[0]
            : state.nextLogin.acr;
          return provider.interactionFinished(req, res, {
            login: { accountId: form.get("login"), acr, amr: state.nextLogin.amr },
          }, { mergeWithLastSubmission: false });
        }
        if (details.prompt.name === "login") return send(res, 200, loginPage(details.uid, details), "text/html");
        // Consent is granted by loadExistingGrant; nothing else is asked.
        return provider.interactionFinished(req, res, { consent: {} }, { mergeWithLastSubmission: true });
      }
      return callback(req, res);
    } catch (error) {
      send(res, 500, { error: String(error && error.message) });
    }
  },
);
server.listen(config.port, "127.0.0.1", () => console.log("listening"));
