/*
 * The privgraph sandbox: GraphiQL with the three request headers privgraph reads (Authorization,
 * x-privacy-purpose, x-request-id) as fields of the page. The token lives in this tab's sessionStorage
 * only (never a cookie, never localStorage) and is sent only to this gateway's own /graphql (the page's
 * Content-Security-Policy allows no other connection). GraphiQL's own storage (tabs, history,
 * variables, which may hold personal data) is this tab's sessionStorage too.
 */
(function () {
  'use strict';

  var KEYS = { token: 'privgraph.sandbox.token', purpose: 'privgraph.sandbox.purpose', requestId: 'privgraph.sandbox.requestId' };
  var ENDPOINT = new URL('graphql', document.baseURI).href;
  var DEFAULT_QUERY = [
    '# privgraph sandbox: talks to this gateway only.',
    '#',
    '# 1. Paste an access token above',
    '#    (in development: npm run token -- admin).',
    '# 2. A shop reading personal data sets a purpose.',
    '# 3. Run with Ctrl+Enter or the play button.',
    '#',
    '# Every read of personal data is audited.',
    '',
    'query Tenants {',
    '  tenants {',
    '    id',
    '    name',
    '  }',
    '}',
    '',
  ].join('\n');

  var store = window.sessionStorage;
  var tokenInput = document.getElementById('pg-token');
  var purposeInput = document.getElementById('pg-purpose');
  var requestIdInput = document.getElementById('pg-request-id');
  var who = document.getElementById('pg-who');
  var lastRequest = document.getElementById('pg-last');

  tokenInput.value = store.getItem(KEYS.token) || '';
  purposeInput.value = store.getItem(KEYS.purpose) || '';
  requestIdInput.value = store.getItem(KEYS.requestId) || '';

  /** The bearer token as pasted: with or without "Bearer ", surrounding whitespace removed. */
  function currentToken() {
    return tokenInput.value.trim().replace(/^Bearer\s+/i, '');
  }

  /** Decodes the token's claims for display only; the gateway and every subgraph verify it. */
  function claimsOf(token) {
    var parts = token.split('.');
    if (parts.length !== 3) return null;
    try {
      var json = atob(parts[1].replace(/-/g, '+').replace(/_/g, '/').padEnd(Math.ceil(parts[1].length / 4) * 4, '='));
      var claims = JSON.parse(decodeURIComponent(escape(json)));
      return claims && typeof claims === 'object' ? claims : null;
    } catch {
      return null;
    }
  }

  function describe(token) {
    who.title = '';
    if (!token) return { kind: 'none', text: 'no token' };
    var claims = claimsOf(token);
    if (!claims) return { kind: 'invalid', text: 'not a JWT' };
    var scopes = typeof claims.scope === 'string' ? claims.scope.split(' ').filter(Boolean) : [];
    var tenant = typeof claims.organization_id === 'string' && claims.organization_id ? claims.organization_id : null;
    var text;
    var kind;
    if (tenant) {
      kind = 'tenant';
      text = 'tenant ' + tenant.slice(0, 8) + (scopes.length ? ' · ' + scopes.length + ' scope' + (scopes.length === 1 ? '' : 's') : '');
    } else if (scopes.indexOf('platform:admin') !== -1) {
      kind = 'admin';
      text = 'platform admin';
    } else {
      kind = 'subject';
      text = 'signed-in user';
    }
    if (typeof claims.exp === 'number') {
      var minutes = Math.round((claims.exp * 1000 - Date.now()) / 60000);
      if (minutes <= 0) return { kind: 'expired', text: text + ' · expired' };
      text += minutes >= 120 ? ' · ' + Math.round(minutes / 60) + ' h left' : ' · ' + minutes + ' min left';
    }
    who.title = scopes.length ? 'Scopes: ' + scopes.join(' ') : '';
    return { kind: kind, text: text };
  }

  function showWho() {
    var summary = describe(currentToken());
    who.dataset.kind = summary.kind;
    who.textContent = summary.text;
  }

  function requestHeaders(editorHeaders) {
    var headers = { 'content-type': 'application/json', accept: 'application/graphql-response+json, application/json' };
    Object.keys(editorHeaders || {}).forEach(function (name) {
      headers[name.toLowerCase()] = String(editorHeaders[name]);
    });
    var token = currentToken();
    var purpose = purposeInput.value.trim();
    var requestId = requestIdInput.value.trim();
    if (token) headers.authorization = 'Bearer ' + token;
    if (purpose) headers['x-privacy-purpose'] = purpose;
    if (requestId) headers['x-request-id'] = requestId;
    return headers;
  }

  function createFetcher() {
    return function fetcher(params, options) {
      return fetch(ENDPOINT, {
        method: 'POST',
        headers: requestHeaders(options && options.headers),
        body: JSON.stringify(params),
        credentials: 'omit',
        cache: 'no-store',
        referrerPolicy: 'no-referrer',
      }).then(function (response) {
        if (lastRequest && params.operationName !== 'IntrospectionQuery') {
          var id = response.headers.get('x-request-id');
          lastRequest.textContent = 'HTTP ' + response.status + (id ? ' · request id ' + id : '');
        }
        return response.text().then(function (text) {
          try {
            return JSON.parse(text);
          } catch {
            return { errors: [{ message: 'HTTP ' + response.status + ': the gateway did not answer with JSON' }] };
          }
        });
      });
    };
  }

  var root = ReactDOM.createRoot(document.getElementById('graphiql'));
  function render() {
    root.render(
      React.createElement(GraphiQL, {
        // A new fetcher makes GraphiQL load the schema again, with the new token.
        fetcher: createFetcher(),
        defaultQuery: DEFAULT_QUERY,
        storage: store,
        shouldPersistHeaders: false,
        defaultEditorToolsVisibility: false,
      }),
    );
  }

  var pending;
  function remember(input, key, reloadSchema) {
    input.addEventListener('input', function () {
      var value = input.value.trim();
      if (value) store.setItem(key, value);
      else store.removeItem(key);
      if (input === tokenInput) showWho();
      if (reloadSchema) {
        clearTimeout(pending);
        pending = setTimeout(render, 400);
      }
    });
  }
  remember(tokenInput, KEYS.token, true);
  remember(purposeInput, KEYS.purpose, false);
  remember(requestIdInput, KEYS.requestId, false);

  document.getElementById('pg-token-show').addEventListener('click', function (event) {
    var hidden = tokenInput.type === 'password';
    tokenInput.type = hidden ? 'text' : 'password';
    event.currentTarget.textContent = hidden ? 'hide' : 'show';
  });
  document.getElementById('pg-token-clear').addEventListener('click', function () {
    tokenInput.value = '';
    tokenInput.dispatchEvent(new Event('input'));
    tokenInput.focus();
  });
  document.getElementById('pg-headers').addEventListener('submit', function (event) {
    event.preventDefault();
  });
  setInterval(showWho, 30000);

  showWho();
  render();
})();
